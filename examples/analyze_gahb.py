"""Eigen-analysis of denoisers on small images: a Wiener filter, a memorizer, and a tiny UNet.

Trains a tiny bias-free UNet on Gaussian images (until it denoises: about +6 dB at sigma = 0.1),
then compares its Jacobian spectrum with the optimal (Wiener) denoiser's and with the empirical
optimal denoiser of 8 training images (a memorizer), and checks the matrix-free methods against
the full Jacobian. About 2 CPU-minutes.

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
    parser.add_argument("--steps", type=int, default=600)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    size, sigma = 16, 0.2
    prior = keras_gahb.data.GaussianImages(size, spectrum_exponent=2.0, std=0.2)
    train = prior.sample(256, seed=0)
    test = prior.sample(32, seed=1)

    model = keras_gahb.models.from_preset("unet_tiny")
    keras_gahb.training.compile_denoiser(model, learning_rate=3e-3, schedule="cosine",
                                         steps_per_epoch=args.steps, epochs=1)
    rng = np.random.default_rng(2)
    for _ in range(args.steps):
        batch = train[rng.integers(0, len(train), 32)]
        sigmas = rng.random((32, 1, 1, 1)).astype("float32") ** 2 * 0.4
        model.train_on_batch(batch + sigmas * rng.standard_normal(batch.shape).astype("float32"), batch)

    # A memorizer of 8 training images; they lie ~4.8 apart (L2), so at sigma <= 0.5 its posterior
    # collapses on the nearest one (J = 0); at sigma = 1 it still weighs several of them.
    memo_sigma = 1.0
    memorizer = analysis.EmpiricalOptimalDenoiser(train[:8], sigma=memo_sigma)

    x = test[0]
    result = analysis.eigen_analysis(model, x, sigma=sigma, seed=3)
    result.save(os.path.join(args.out, "unet"))
    figures.fig2_layout(os.path.join(args.out, "unet", "fig2.png"), result)
    memo = analysis.eigen_analysis(memorizer, train[0], sigma=memo_sigma, seed=3)
    figures.fig2_layout(os.path.join(args.out, "memorizer_fig2.png"), memo)
    # J of a memorizer = posterior covariance of the training images / sigma^2: its eigenvectors
    # with lambda > 0 lie in the span of the (centred) training images.
    centred = train[:8].reshape(8, -1) - train[:8].reshape(8, -1).mean(axis=0)
    span = np.linalg.qr(centred.T)[0]
    in_span = np.linalg.norm(span.T @ memo.eigenvectors[:, :3], axis=0)
    spectrum = prior.power_spectrum().ravel()
    wiener_trace = float(np.sum(spectrum / (spectrum + sigma**2)))
    summary = result.summary()
    optimal_psnr = 10 * np.log10(1 / prior.optimal_mse(sigma))
    print(f"UNet at sigma {sigma}: PSNR {summary['input_psnr']:.2f} dB -> "
          f"{summary['output_psnr']:.2f} dB (Wiener filter, the optimum on average: "
          f"{optimal_psnr:.2f} dB)")
    print(f"UNet: tr J = {result.trace:.1f}, lambda_1..4 = {np.round(result.eigenvalues[:4], 3)}, "
          f"||f - Jy||/||f|| = {result.bias_free_error:.1e}, asymmetry = {result.asymmetry:.3f}")
    print(f"Wiener filter (optimal): tr J* = {wiener_trace:.1f}")
    print(f"memorizer (N=8) at a training image, sigma {memo_sigma}: lambda_1..4 = "
          f"{np.round(memo.eigenvalues[:4], 3)}, at most 7 nonzero; share of e_1..e_3 in the span "
          f"of the training images: {np.round(in_span, 3)}")

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
