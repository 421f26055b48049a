"""Eigen-analysis of denoisers on small images: a Wiener filter, a memorizer, and a tiny UNet.

Trains a tiny bias-free UNet for a few steps on Gaussian images, then compares its Jacobian
spectrum with the optimal (Wiener) denoiser's and with the empirical optimal denoiser of 8
training images (a memorizer), and checks the matrix-free methods against the full Jacobian.

    python examples/analyze_gahb.py --out analyze_example/
"""

import argparse
import os

import keras
import numpy as np

import keras_gahb
from keras_gahb import analysis
from keras_gahb.analysis import figures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="analyze_example")
    parser.add_argument("--steps", type=int, default=150)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    size, sigma = 16, 0.1
    prior = keras_gahb.data.GaussianImages(size, spectrum_exponent=2.0, std=0.2)
    train = prior.sample(256, seed=0)
    test = prior.sample(32, seed=1)

    model = keras_gahb.models.from_preset("unet_tiny")
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    rng = np.random.default_rng(2)
    for _ in range(args.steps):
        batch = train[rng.integers(0, len(train), 32)]
        sigmas = rng.random((32, 1, 1, 1)).astype("float32") ** 2 * 0.4
        model.train_on_batch(batch + sigmas * rng.standard_normal(batch.shape).astype("float32"), batch)

    memorizer = analysis.EmpiricalOptimalDenoiser(train[:8], sigma=sigma)

    x = test[0]
    result = analysis.eigen_analysis(model, x, sigma=sigma, seed=3)
    result.save(os.path.join(args.out, "unet"))
    figures.fig2_layout(os.path.join(args.out, "unet", "fig2.png"), result)
    memo = analysis.eigen_analysis(memorizer, train[0], sigma=sigma, seed=3)
    figures.fig2_layout(os.path.join(args.out, "memorizer_fig2.png"), memo)
    spectrum = prior.power_spectrum().ravel()
    wiener_trace = float(np.sum(spectrum / (spectrum + sigma**2)))
    print(f"UNet: tr J = {result.trace:.1f}, ||f - Jy||/||f|| = {result.bias_free_error:.1e}, "
          f"asymmetry = {result.asymmetry:.3f}, PSNR {result.summary()['output_psnr']:.2f} dB")
    print(f"Wiener filter (optimal): tr J* = {wiener_trace:.1f}; memorizer at a training image: "
          f"tr J = {memo.trace:.2f} (the posterior collapses on that image)")

    top = analysis.top_eigenpairs(model, result.noisy, k=16, method="block", tol=1e-6)
    error = np.max(np.abs(top["eigenvalues"] - result.eigenvalues[:16]) / np.abs(result.eigenvalues[:16]))
    trace = analysis.hutchinson_trace(model, result.noisy, num_probes=128, seed=0)
    print(f"block Krylov top-16: {top['products']} products, max relative error vs full {error:.1e}; "
          f"Hutchinson tr J = {trace['trace']:.1f} +- {trace['standard_error']:.1f}")

    sigmas = np.geomspace(0.02, 0.3, 6)
    curves = {}
    for name, f in (("unet", model), ("memorizer (N=8)", analysis.EmpiricalOptimalDenoiser(train[:8]))):
        curves[name] = {"train": analysis.psnr_curve(f, train[:32] if name == "unet" else train[:8], sigmas),
                        "test": analysis.psnr_curve(f, test, sigmas)}
        print(f"{name}: train-test gap (dB) " + " ".join(
            f"{g:.1f}" for g in analysis.train_test_gap(curves[name]["train"], curves[name]["test"])))
    figures.psnr_curves_figure(os.path.join(args.out, "psnr.png"), curves)
    mse = analysis.mse_curve(model, test, sigmas, seed=0)
    fit = analysis.mse_slope(sigmas, mse)
    optimal = analysis.mse_slope(sigmas, prior.optimal_mse(sigmas))
    figures.mse_slope_figure(os.path.join(args.out, "slope.png"), sigmas, {"unet": mse.mean(axis=0)},
                             {"unet": fit}, optimal=prior.optimal_mse(sigmas))
    print(f"MSE slope: unet {fit['slope']:.3f} [{fit['ci_low']:.3f}, {fit['ci_high']:.3f}], "
          f"Wiener {optimal['slope']:.3f}")
    print(f"Wrote {args.out}/")


if __name__ == "__main__":
    main()
