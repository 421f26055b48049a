"""What `gahb analyze references | branching | dimension` run: compute, write JSON + PNG.

(`gahb analyze dynamics` trains models: it is `keras_gahb.experiments.analyze_dynamics`.)

A model argument is a .keras file, a preset name, a denoiser, or
"reference:NAME" for a reference denoiser of the training images (`--train`),
e.g. "reference:empirical" (the memorizing optimum; blind, so the sampler can
run it) or "reference:wiener".
"""

import os

import numpy as np

from keras_gahb.analysis import beyond_figures
from keras_gahb.analysis.dimension import (
    dimension_curve,
    gaussian_jacobian_spectrum,
    local_disc_images,
    per_sigma,
)
from keras_gahb.analysis.empirical_optimal_denoiser import EmpiricalOptimalDenoiser
from keras_gahb.analysis.measures import check_sigmas, memorization_ratio
from keras_gahb.analysis.probes import branching, trajectory_agreement
from keras_gahb.analysis.references import REFERENCES, WienerDenoiser, compare_with_references, reference_denoiser
from keras_gahb.analysis.run import load_images
from keras_gahb.models.loading import image_channels, load_denoiser
from keras_gahb.utils import atomic_write_json

_PREFIX = "reference:"


def analyze_references(out_dir, model, train, images, sigmas=(0.02, 0.05, 0.1, 0.2, 0.4),
                       references=("empirical", "wiener", "gmm", "smoothed", "els", "pca_local"),
                       num=32, num_train=None, size=None, seed=0, options=None):
    """MSE and r^2 of MODEL against each reference denoiser of its training set; references.json/.png.

    Args:
        model: the network (.keras, preset, or callable).
        train: its training images (file or dataset name).
        images: evaluation images (file or dataset name; e.g. test images).
        references: names in `keras_gahb.analysis.REFERENCES`.
        num: evaluation images. num_train: training images to load (dataset names).
        options: {reference: {argument: value}}.
    """
    denoiser, name = load_denoiser(model)
    channels = image_channels(denoiser)
    train_x = load_images(train, num=num_train, size=size, seed=seed, channels=channels)
    x = load_images(images, num=num, size=size or train_x.shape[1], seed=seed + 1, channels=channels)
    result = compare_with_references(denoiser, train_x, x, sigmas, references=references,
                                     options=options, seed=seed)
    summary = {"model": name, "num_train": len(train_x), "num_images": len(x), **result}
    atomic_write_json(os.path.join(out_dir, "references.json"), summary)
    beyond_figures.references_figure(os.path.join(out_dir, "references.png"), result,
                                     title=f"{name}: N = {len(train_x)}")
    return summary


def analyze_branching(out_dir, model, size, train=None, compare=None, num=4, num_train=None,
                      branch_sigmas=(0.5, 0.2, 0.1, 0.05), num_branches=4, seed=0, channels=None,
                      sampler_options=None):
    """Branching probe (and, with `compare`, the two-model agreement along the trajectory).

    Writes branching.json/.png, and agreement.json/.png when `compare` is given.

    Args:
        model, compare: denoisers (.keras, preset, callable, or "reference:empirical"
            with `train`; for `compare` also "reference:empirical:FILE" for the
            empirical optimum of other images).
        size: image side.
        train: training images (needed for references; also reports whether
            branches end at the same training image).
    """
    options = {"h0": 0.1, "beta": 0.5, "sigma_final": 0.02, "max_steps": 300}
    options.update(sampler_options or {})
    train_x = None
    if train is not None:
        train_x = load_images(train, num=num_train, size=size, seed=seed, channels=channels or 1)
    denoiser, name = _model(model, train_x, None)
    channels = channels or (train_x.shape[-1] if train_x is not None else image_channels(denoiser))
    shape = (int(num), int(size), int(size), int(channels))
    result = branching(denoiser, shape, branch_sigmas, num_branches=num_branches, seed=seed,
                       train_images=train_x, **options)
    summary = {"model": name, "num_branches": num_branches, "sampler": options,
               **{k: v for k, v in result.items() if k != "endpoints"}}
    if train_x is not None:
        ends = result["endpoints"].reshape((-1,) + shape[1:])
        summary["memorization_ratio_of_endpoints"] = memorization_ratio(ends, train_x)["ratio"]
    atomic_write_json(os.path.join(out_dir, "branching.json"), summary)
    beyond_figures.branching_figure(os.path.join(out_dir, "branching.png"), result)
    if compare is not None:
        other, other_name = _model(compare, train_x, size)
        agreement = trajectory_agreement(denoiser, other, shape, seed=seed, **options)
        atomic_write_json(os.path.join(out_dir, "agreement.json"),
                          {"model": name, "compare": other_name,
                           **{k: v for k, v in agreement.items() if k != "samples"}})
        beyond_figures.agreement_figure(os.path.join(out_dir, "agreement.png"), agreement)
        summary["agreement"] = {k: v for k, v in agreement.items() if k != "samples"}
    return summary


def analyze_dimension(out_dir, model, image, sigmas=(0.01, 0.02, 0.05, 0.1, 0.2, 0.4), size=None,
                      train=None, num_train=None, method="full", top_k=32, num_probes=32, seed=0,
                      manifold_dimension=None):
    """tr J(sigma), spectral gap and implied dimension of MODEL at one image; dimension.json/.png.

    Args:
        model: a denoiser, or "reference:NAME" (built at each sigma from `train`).
        image: image file or dataset name (its first image).
        train: training images; with "local-discs", `num_train` discs around the
            image's disc parameters (`local_disc_images`; `image` must then be
            "discs"), a dense patch of the 5-D disc manifold.
        method: "full" or "matrix_free".
        manifold_dimension: drawn for reference (5 for discs).

    The closed-form Gaussian curve sum lambda/(lambda + sigma^2) of the
    training covariance is added when `train` is given.
    """
    sigmas = check_sigmas(sigmas)
    train_x = None
    if train == "local-discs":
        from keras_gahb.data.discs import disc_images

        if image != "discs" or size is None:
            raise ValueError("train='local-discs' needs image='discs' and a size.")
        images, params = disc_images(1, size=size, seed=seed, return_params=True)
        x = images[0]
        train_x = local_disc_images(params[0], num_train or 3000, size, seed=seed + 1,
                                    spread=(0.3, 0.3, 0.3, 0.03, 0.03))
        manifold_dimension = manifold_dimension or 5
    else:
        if train is not None:
            train_x = load_images(train, num=num_train, size=size, seed=seed, channels=1)
        channels = train_x.shape[-1] if train_x is not None else None
        x = load_images(image, num=1, size=size, seed=seed, channels=channels or 1)[0]
    denoiser, name = _model(model, train_x, "per_sigma")
    curve = dimension_curve(denoiser, x, sigmas, method=method, top_k=top_k, num_probes=num_probes,
                            seed=seed)
    gaussian = None
    if train_x is not None and train_x[0].size <= 4096:
        values = WienerDenoiser(train_x, 1.0).eigenvalues
        gaussian = np.array([gaussian_jacobian_spectrum(values, s).sum() for s in sigmas])
    summary = {"model": name, "image_shape": list(x.shape), "manifold_dimension": manifold_dimension,
               "gaussian_trace": gaussian, **curve}
    atomic_write_json(os.path.join(out_dir, "dimension.json"), summary)
    beyond_figures.dimension_figure(os.path.join(out_dir, "dimension.png"), curve, gaussian=gaussian,
                                    manifold_dimension=manifold_dimension)
    return summary


def _model(spec, train_x, mode):
    """A denoiser from a model spec; "reference:NAME[:FILE]" builds a reference of the training images."""
    if isinstance(spec, str) and spec.startswith(_PREFIX):
        parts = spec[len(_PREFIX):].split(":", 1)
        ref = parts[0]
        if ref not in REFERENCES:
            raise ValueError(f"Unknown reference '{ref}'. Choose from {', '.join(REFERENCES)}.")
        images = train_x
        if len(parts) == 2:
            images = load_images(parts[1], num=None, size=None, seed=0, channels=None)
        if images is None:
            raise ValueError(f"'{spec}' needs training images: pass --train.")
        if mode == "per_sigma":
            return per_sigma(lambda s: reference_denoiser(ref, images, s)), spec
        if ref != "empirical":
            raise ValueError(f"Only 'reference:empirical' is blind (usable by the sampler); got '{spec}'.")
        return EmpiricalOptimalDenoiser(images), spec
    return load_denoiser(spec)


__all__ = ["analyze_branching", "analyze_dimension", "analyze_references"]
