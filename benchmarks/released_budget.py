"""Time of the default plan of `gahb reproduce --released DIR` on this CPU (target: <= 45 min).

The time does not depend on the weights, so the authors' layout is written with randomly
initialized full-size UNets (RF 90, 64 kernels, the authors' tensor layout, by the PyTorch
reference of tests/reference; one face and one C^alpha file, hard-linked to every path) and
the real command runs a few steps of the default plan at 80x80:

- one transition step (N = 99,325: S1 and S2, the default samples), with the sampler forced to
  make exactly the paper's nominal number of steps (`nominal_sampler_steps`: an ideal
  denoiser's; a random near-identity model would stop at once);
- one C^alpha step (alpha = 1, the default images and sigmas);
- one GAHB step of the face model and one of a C^alpha model, with the Jacobian products capped
  at two Krylov blocks, extrapolated linearly to the default cap `gahb_max_products` (an upper
  bound: a trained model can stop earlier, at `gahb_tol`).

The plan's time is then 6 transition steps + 5 C^alpha steps + 1 + len(gahb_alphas) GAHB
steps + the discovery of all 17 files (measured: every file is read). Prints the CPU, its
fp32 matmul peak (`train_throughput.matmul_peak_gflops`) and the load average, which the
CPU's other users change.

Run (about 5 minutes): nice -n 19 python benchmarks/released_budget.py [--json out.json]
"""

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", default=None, help="Also write the results to this file.")
    parser.add_argument("--keep", default=None, help="Keep the run folder here.")
    args = parser.parse_args()
    sys.path.insert(0, _ROOT)
    from benchmarks.train_throughput import matmul_peak_gflops
    from keras_gahb.experiments import released

    defaults = released.ReleasedConfig()
    load_before = os.getloadavg()
    peak = matmul_peak_gflops()
    work = tempfile.mkdtemp(prefix="released_budget_")
    try:
        clone = os.path.join(work, "clone")
        _write_layout(os.path.join(clone, "denoisers", "UNet"))
        steps = released.nominal_sampler_steps(**defaults.sampler)
        forced = {**defaults.sampler, "sigma_final": 1e-9, "divergence_sigma": 1e30,
                  "floor_factor": None, "max_steps": steps}
        faces_cap = 2 * (defaults.gahb_k + max(8, defaults.gahb_k // 4))
        calpha_cap = 2 * (defaults.gahb_calpha_k + max(8, defaults.gahb_calpha_k // 4))
        run_dir = args.keep or os.path.join(work, "run")
        timings, cpu_timings = {}, {}
        for label, options in (
            ("transition+calpha+gahb faces", dict(
                parts=["transition", "calpha", "gahb"], n_values=[99325], calpha_alphas=[1],
                gahb_alphas=[], sampler=forced, gahb_max_products=faces_cap, gahb_tol=1e-12)),
            ("gahb calpha", dict(parts=["gahb"], n_values=[], calpha_alphas=[1],
                                 gahb_alphas=[1], gahb_max_products=calpha_cap, gahb_tol=1e-12)),
        ):
            start, cpu_start = time.perf_counter(), time.process_time()
            released.reproduce_released(clone, run_dir + "_" + label.split()[0], verbose=1,
                                         **options)
            timings[label] = time.perf_counter() - start
            cpu_timings[label] = time.process_time() - cpu_start
        steps_done = {}
        for suffix in ("transition+calpha+gahb", "gahb"):
            folder = os.path.join(run_dir + "_" + suffix, "steps")
            for name in os.listdir(folder):
                if name.endswith(".json"):
                    with open(os.path.join(folder, name)) as f:
                        steps_done[name[:-5]] = json.load(f)
        plan = _plan(defaults, steps_done, timings["transition+calpha+gahb faces"], "seconds")
        plan_cpu = _plan(defaults, steps_done, cpu_timings["transition+calpha+gahb faces"],
                         "cpu_seconds")
        total, total_cpu = sum(plan.values()), sum(plan_cpu.values())
        faces, gahb_calpha = steps_done["gahb_faces_99325"], steps_done["gahb_calpha_1"]
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    result = {
        "cpu": _cpu_name(), "cores": os.cpu_count(), "python": platform.python_version(),
        "backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
        "fp32_matmul_peak_gflops": round(peak, 1),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "nominal_sampler_steps": steps,
        "measured_steps": {name: {"seconds": step["seconds"], "cpu_seconds": step["cpu_seconds"],
                                  "products": step.get("products")}
                           for name, step in steps_done.items()},
        "gahb_products_measured": {"faces": faces["products"], "calpha": gahb_calpha["products"]},
        "plan_seconds": {k: round(v, 1) for k, v in plan.items()},
        "plan_minutes": round(total / 60, 1),
        "plan_cpu_seconds": {k: round(v, 1) for k, v in plan_cpu.items()},
        # CPU seconds over the cores: the wall time on this CPU with no other user, if the
        # work keeps every core busy (an optimistic bound; the wall time above is pessimistic
        # when the load average exceeds the core count).
        "plan_minutes_idle_estimate": round(total_cpu / os.cpu_count() / 60, 1),
        "defaults": {"num_samples": defaults.num_samples,
                     "heldout_images": defaults.heldout_images,
                     "calpha_images": defaults.calpha_images, "gahb_k": defaults.gahb_k,
                     "gahb_calpha_k": defaults.gahb_calpha_k,
                     "gahb_max_products": defaults.gahb_max_products},
    }
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return result


def _plan(defaults, steps, first_run, key):
    """The default plan's time from the measured steps (`key`: "seconds" or "cpu_seconds")."""
    transition = steps["transition_n99325"][key]
    calpha = steps["calpha_alpha1"][key]
    faces, gahb_calpha = steps["gahb_faces_99325"], steps["gahb_calpha_1"]
    overhead = first_run - transition - calpha - faces[key]
    return {
        "transition (6 N)": 6 * transition,
        "calpha (5 alpha)": 5 * calpha,
        "gahb faces N=99,325": faces[key] * defaults.gahb_max_products / faces["products"],
        f"gahb C^alpha ({len(defaults.gahb_alphas)} models)": len(defaults.gahb_alphas)
        * gahb_calpha[key] * defaults.gahb_max_products / gahb_calpha["products"],
        "discovery, safe reading of 17 files, report": overhead,
    }


def _write_layout(unet_dir):
    """Random full-size UNets (RF 90) at every released path: one file per kind, hard-linked."""
    import torch

    sys.path.insert(0, _ROOT)
    from keras_gahb.experiments import released_data
    from tests.reference.official_models import ReferenceUNet

    sources = {}
    for kind, seed in (("faces", 0), ("calpha", 1)):
        torch.manual_seed(seed)
        os.makedirs(unet_dir, exist_ok=True)
        path = os.path.join(os.path.dirname(unet_dir), f"{kind}.pt")
        torch.save(ReferenceUNet(num_blocks=3, num_kernels=64).state_dict(), path)
        sources[kind] = path
    targets = [(released_data.face_model_path(unet_dir, n, s), "faces")
               for n in released_data.RELEASED_NS for s in (False, True)]
    targets += [(released_data.calpha_model_path(unet_dir, a), "calpha")
                for a in released_data.RELEASED_ALPHAS]
    for target, kind in targets:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            os.link(sources[kind], target)
        except OSError:
            shutil.copyfile(sources[kind], target)


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    main()
