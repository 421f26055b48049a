"""Instruments beyond the paper, each on built-in data against its known answer (minutes on a CPU).

1. Reference denoisers: a bias-free linear network trained on Gaussian images is the Wiener
   filter (r^2 >= 0.95), not the empirical optimum; the ELS and PCA-local references on faces.
2. The sampler driven by the empirical optimum of 20 faces returns training images (ratio 1).
3. Noise-level probes: two memorizers of disjoint face sets agree at large sigma only;
   branching shows where a sample's identity is decided.
4. Jacobian dimension across sigma: the Wiener reference's tr J is sum lambda / (lambda +
   sigma^2); the tangent projection of the disc manifold has dimension 5.
5. Memorization over training time: a short `memorization_sweep` (N = 2, 3, 4) with the
   tau_gen / tau_mem read-off (tau_mem needs thousands of steps: docs/analysis.md).

    PYTHONPATH=. python examples/beyond_the_paper.py
"""

import argparse
import time

import keras
import numpy as np

import keras_gahb
from keras_gahb import analysis, data, sampling, training
from keras_gahb.data.discs import render_discs


def references():
    prior = data.GaussianImages(8, mean=0.0)
    train, test = prior.sample(500, seed=0), prior.sample(32, seed=1)
    sigma = 0.15
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(64, use_bias=False, kernel_initializer="zeros"),
                              keras.layers.Reshape((8, 8, 1))])
    clean = np.tile(train, (40, 1, 1, 1))
    noisy = clean + np.float32(sigma) * np.random.default_rng(0).standard_normal(clean.shape).astype(np.float32)
    model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-2, 8 * 40)), "mse")
    model.fit(noisy, clean, batch_size=500, epochs=8, verbose=0)
    out = analysis.compare_with_references(model, train, test, [sigma], references=("wiener", "empirical"))
    r2 = {name: entry["r2"][0] for name, entry in out["references"].items()}
    print(f"[references] linear network on Gaussian images, sigma {sigma}: r^2 to wiener "
          f"{r2['wiener']:.3f}, to empirical {r2['empirical']:.3f}; closest: {out['closest'][0]}")
    faces = data.get_images("faces", 48, 12)
    train, test = faces[:32], faces[32:40]
    f = analysis.EmpiricalOptimalDenoiser(train)  # blind: stands in for "a network"
    out = analysis.compare_with_references(f, train, test, [0.1, 0.4], references=("empirical", "els", "pca_local"))
    for name, entry in out["references"].items():
        print(f"[references] empirical optimum of 32 faces vs {name}: r^2 {np.round(entry['r2'], 3).tolist()} "
              "at sigma [0.1, 0.4]")


def memorizer_samples():
    faces = data.get_images("faces", 40, 12)
    train = faces[:20]
    result = sampling.sample(analysis.EmpiricalOptimalDenoiser(train), (6, 12, 12, 1), seed=0, h0=0.1,
                             beta=0.5, sigma_final=0.01)
    ratio = analysis.memorization_ratio(result.images, train)["ratio"]
    print(f"[memorizer] sampler driven by the empirical optimum of 20 faces: memorization ratio {ratio:.2f} "
          f"({int(result.converged.sum())}/6 converged)")


def probes():
    faces = data.get_images("faces", 40, 12)
    f1, f2 = analysis.EmpiricalOptimalDenoiser(faces[:20]), analysis.EmpiricalOptimalDenoiser(faces[20:])
    agree = analysis.trajectory_agreement(f1, f2, (3, 12, 12, 1), h0=0.1, beta=0.5, num_bins=4)
    print(f"[agreement] disjoint memorizers: ||f1 - f2||^2 / ||f1 - x_t||^2 = "
          f"{agree['relative_difference'][0]:.3f} at sigma_t {agree['sigma'][0]:.2f}, "
          f"{agree['relative_difference'][-1]:.3f} at sigma_t {agree['sigma'][-1]:.2f}")
    out = analysis.branching(f1, (2, 12, 12, 1), [0.6, 0.3, 0.03], num_branches=3, train_images=faces[:20],
                             h0=0.1, beta=0.5, sigma_final=0.01)
    print("[branching] endpoint correlation at sigma_t [0.6, 0.3, 0.03]: "
          f"{np.round(out['similarity'], 3).tolist()}; same training image: "
          f"{np.round(out['same_nearest'], 2).tolist()}")


def dimension():
    train = data.GaussianImages(8).sample(500, seed=0)
    sigmas = [0.05, 0.2]
    curve = analysis.dimension_curve(analysis.per_sigma(lambda s: analysis.WienerDenoiser(train, s)),
                                     train[0], sigmas, top_k=32)
    values = analysis.WienerDenoiser(train, 1.0).eigenvalues
    closed = [analysis.gaussian_jacobian_spectrum(values, s).sum() for s in sigmas]
    print(f"[dimension] Wiener tr J at sigma {sigmas}: {np.round(curve['trace'], 3).tolist()}; "
          f"closed form sum lambda/(lambda+sigma^2): {np.round(closed, 3).tolist()}")
    disc = np.array([8.0, 8.0, 4.0, 0.8, 0.2])
    x = render_discs(disc[None], 16)[0]
    f = analysis.TangentProjectionDenoiser(x, analysis.disc_tangent_basis(disc, 16))
    curve = analysis.dimension_curve(f, x, [0.05], top_k=12)
    print(f"[dimension] disc tangent projection: tr J {curve['trace'][0]:.3f}, implied dimension "
          f"{curve['dimension'][0]}")


def dynamics(steps):
    pool = data.get_images("faces", 12, 8)
    sweep = training.memorization_sweep(pool[:4], pool[4:], ns=(2, 3, 4), steps=steps, every=steps // 2,
                                        learning_rate=3e-3, num_samples=4)
    for n in sweep["ns"]:
        t, last = sweep["times"][n], sweep["records"][n][-1]
        print(f"[dynamics] N={n}: tau_gen {t['tau_gen']}, tau_mem {t['tau_mem']}; after {last['step']} steps "
              f"train loss {last['train_loss']:.4f}, test loss {last['test_loss']:.4f}, memorization ratio "
              f"{last['memorization_ratio']:.2f} (median d1/d2 {last['median_distance_ratio']:.2f})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="training steps per N of the dynamics sweep")
    args = parser.parse_args()
    for part in (references, memorizer_samples, probes, dimension):
        start = time.time()
        part()
        print(f"  ({part.__name__}: {time.time() - start:.0f} s)")
    start = time.time()
    dynamics(args.steps)
    print(f"  (dynamics: {time.time() - start:.0f} s)")
    print(f"keras_gahb {keras_gahb.__version__}: done")


if __name__ == "__main__":
    main()
