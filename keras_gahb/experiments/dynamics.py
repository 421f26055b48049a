"""`gahb analyze dynamics`: memorization over training time, from a sweep of training runs.

It trains one small model per N (`keras_gahb.training.memorization_sweep`), so it
lives with the experiments: the analysis package measures denoisers and never trains.
"""

import os

from keras_gahb.analysis import beyond_figures
from keras_gahb.analysis.run import load_images
from keras_gahb.training.memorization import memorization_sweep
from keras_gahb.utils import atomic_write_json


def analyze_dynamics(out_dir, data, ns=(4, 8, 16, 32), size=16, num_test=16, steps=2000, every=100,
                     preset="unet_tiny", batch_size=8, learning_rate=1e-3, num_samples=8, seed=0,
                     stop_at_memorization=True, verbose=1):
    """Memorization over training time for several N: dynamics.json and dynamics.png (with the tau fit).

    Args:
        data: dataset name or image file; the first max(ns) images train, the
            last `num_test` are held out.
        stop_at_memorization: stop each N at its tau_mem (`steps` is a cap).
    """
    ns = sorted(int(n) for n in ns)
    pool = load_images(data, num=max(ns) + int(num_test), size=size, seed=seed, channels=None
                       if not isinstance(data, str) or os.path.exists(data) else 1)
    if len(pool) < max(ns) + int(num_test):
        raise ValueError(f"Need {max(ns) + int(num_test)} images (max N + num_test); {data} has {len(pool)}.")
    sweep = memorization_sweep(pool[:max(ns)], pool[-int(num_test):], ns, steps=steps, every=every,
                               preset=preset, batch_size=batch_size, learning_rate=learning_rate,
                               seed=seed, num_samples=num_samples,
                               stop_at_memorization=stop_at_memorization, verbose=verbose)
    summary = {"data": str(data), "size": pool.shape[1], "preset": preset, "steps": steps,
               "every": every, "batch_size": batch_size, "learning_rate": learning_rate,
               "num_samples": num_samples, "stop_at_memorization": stop_at_memorization,
               "ns": ns, "times": {str(n): t for n, t in sweep["times"].items()},
               "records": {str(n): r for n, r in sweep["records"].items()},
               "fit_mem": sweep["fit_mem"], "fit_gen": sweep["fit_gen"]}
    atomic_write_json(os.path.join(out_dir, "dynamics.json"), summary)
    beyond_figures.dynamics_figure(os.path.join(out_dir, "dynamics.png"), sweep)
    return summary
