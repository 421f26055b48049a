"""What `gahb analyze` runs: each function loads inputs, computes, writes JSON + PNG, returns a summary."""

import os

import numpy as np

from keras_gahb import runs
from keras_gahb.analysis import figures
from keras_gahb.analysis.eigen_analysis import EigenAnalysis, eigen_analysis
from keras_gahb.analysis.matrix_free import hutchinson_trace, top_eigenpairs
from keras_gahb.analysis.oracle import oracle_risk
from keras_gahb.analysis.measures import (
    check_sigmas,
    cosine_similarity,
    denoise,
    memorization_ratio,
    mse_curve,
    mse_slope,
    nearest_neighbors,
    psnr_curve,
    train_test_gap,
)
from keras_gahb.models.loading import check_image_fits, image_channels, load_denoiser, model_title
from keras_gahb.utils import atomic_write_json
from keras_gahb.utils.images import as_image_batch, read_image_file


def analyze_jacobian(out_dir, model, image, sigma, seed=0, method="full", top_k=64, tol=1e-5,
                     chunk_size=None, max_memory_gb=4.0, size=None, num_probes=64, verbose=1):
    """Jacobian eigen-analysis of MODEL at IMAGE + sigma z; writes eigen.json/.npz and fig2.png.

    Args:
        out_dir: output folder.
        model: a .keras file, a preset name (random weights) or a denoiser.
        image: an image file (.png/.npy/.npz), a dataset name of
            `keras_gahb.data.get_images` (its first image) or an array (H, W, C).
        sigma: noise level.
        method: "full" (whole Jacobian + eigh), "block" or "lanczos" (top_k
            eigenpairs matrix-free, tr J by Hutchinson). Default "full".
        size: image side when `image` is a dataset name.
    """
    denoiser, name = load_denoiser(model)
    x = _model_images(image, denoiser, model, num=1, size=size, seed=seed)[0]
    if method == "full":
        result = eigen_analysis(denoiser, x, sigma=sigma, seed=seed, chunk_size=chunk_size,
                                max_memory_gb=max_memory_gb, verbose=verbose)
        summary = result.summary()
    elif method in ("block", "lanczos"):
        noisy = x + np.float32(sigma) * np.random.default_rng(seed).standard_normal(x.shape).astype(np.float32)
        top = top_eigenpairs(denoiser, noisy, k=top_k, method=method, tol=tol, seed=seed,
                             verbose=verbose)
        trace = hutchinson_trace(denoiser, noisy, num_probes=num_probes, seed=seed)
        denoised = denoise(denoiser, noisy[None])[0]
        result = EigenAnalysis(x, noisy, denoised, sigma, top["eigenvalues"], top["eigenvectors"],
                               trace["trace"], np.nan, np.nan)
        summary = result.summary()
        summary.update(
            effective_dimensionality_standard_error=trace["standard_error"],
            sure_mse_standard_error=2 * float(sigma) ** 2 * trace["standard_error"] / x.size,
            method=method, products=top["products"], converged=top["converged"],
            max_residual=float(np.max(top["residuals"])), seconds=top["seconds"],
            bias_free_error=None, asymmetry=None, sum_of_eigenvalues=None,
        )
    else:
        raise ValueError(f"Unknown method '{method}'. Use 'full', 'block' or 'lanczos'.")
    summary["model"] = name
    result.save(out_dir)
    atomic_write_json(os.path.join(out_dir, "eigen.json"), summary)
    figures.fig2_layout(os.path.join(out_dir, "fig2.png"), result,
                        num_vectors=min(12, len(result.eigenvalues)))
    return summary


def analyze_psnr(out_dir, models, train=None, test=None, sigmas=(0.02, 0.05, 0.1, 0.2, 0.4),
                 num=64, size=None, seed=0, batch_size=32):
    """Output vs input PSNR on train and test images for one or more models; psnr.json + psnr.png.

    Args:
        models: {label: model} (label e.g. the training-set size N).
        train, test: image sources (files or dataset names); at least one.
    """
    if train is None and test is None:
        raise ValueError("Pass --train and/or --test images.")
    sigmas = check_sigmas(sigmas)
    results, curves = {}, {}
    for label, model in models.items():
        denoiser, name = load_denoiser(model)
        entry, pair = {"model": name}, {}
        for split, source in (("train", train), ("test", test)):
            if source is None:
                continue
            images = _model_images(source, denoiser, model, num=num, size=size, seed=seed)
            pair[split] = psnr_curve(denoiser, images, sigmas, seed=seed, batch_size=batch_size)
            entry[split] = {k: v for k, v in pair[split].items() if k != "mse"}
        if len(pair) == 2:
            entry["train_test_gap"] = train_test_gap(pair["train"], pair["test"])
        results[str(label)], curves[str(label)] = entry, pair
    atomic_write_json(os.path.join(out_dir, "psnr.json"), results)
    figures.psnr_curves_figure(os.path.join(out_dir, "psnr.png"), curves)
    return results


def analyze_slope(out_dir, model, images, sigma_min=0.01, sigma_max=0.2, num_sigmas=8, num=64,
                  size=None, seed=0, batch_size=32):
    """Slope of log MSE vs log sigma^2 with a bootstrap CI; slope.json + slope.png.

    Beside the network: the oracle DCT and Haar projection risks of the same images and their
    slopes by the same fit (`keras_gahb.analysis.oracle_slope`), under "oracle".
    """
    if not 0 < sigma_min < sigma_max:
        raise ValueError(f"Need 0 < sigma_min < sigma_max; got {sigma_min}, {sigma_max}.")
    if num_sigmas < 3:
        raise ValueError("num_sigmas must be at least 3.")
    denoiser, name = load_denoiser(model)
    x = _model_images(images, denoiser, model, num=num, size=size, seed=seed)
    sigmas = np.geomspace(sigma_min, sigma_max, num_sigmas)
    mse = mse_curve(denoiser, x, sigmas, seed=seed, batch_size=batch_size)
    fit = mse_slope(sigmas, mse, seed=seed)
    # The oracle projection risks of the DCT and Haar bases on the same images, same fit.
    oracles = {}
    for basis, label in (("dct", "oracle DCT"), ("haar", "oracle Haar")):
        risk = np.maximum(oracle_risk(x, sigmas, basis), 1e-30)  # an all-zero image has risk 0
        oracles[label] = {"mse": risk.mean(axis=0), **mse_slope(sigmas, risk, seed=seed)}
    summary = {"model": name, "num_images": len(x), "sigmas": sigmas, "mse": mse.mean(axis=0), **fit,
               "oracle": {label.split()[1].lower(): value for label, value in oracles.items()}}
    atomic_write_json(os.path.join(out_dir, "slope.json"), summary)
    title = model_title(model)
    figures.mse_slope_figure(os.path.join(out_dir, "slope.png"), sigmas,
                             {title: mse.mean(axis=0), **{k: v["mse"] for k, v in oracles.items()}},
                             {title: fit, **oracles})
    return summary


def analyze_similarity(out_dir, samples, train, compare=None, metric="correlation", threshold=1 / 3,
                       size=None):
    """Nearest training images, cosine similarities and memorization ratio of samples.

    Writes similarity.json, similarity.png (histograms) and nearest.png (sample
    next to its closest training image; with `compare`, the Fig 1 layout).

    Args:
        samples: samples file (.npz from `gahb sample` with key "images", or .npy).
        train: the training images of the model that made `samples` (file or dataset name).
        compare: optional samples of a second model from the same seeds
            (.npz key "images", or the "images_compare" key of `samples`).
    """
    x = load_images(samples, num=None, size=size, seed=0, channels=None)
    t = load_images(train, num=None, size=x.shape[1], seed=0, channels=x.shape[-1])
    nn = nearest_neighbors(x, t, metric=metric, k=1)
    nearest = t[nn["indices"][:, 0]]
    summary = {
        "num_samples": len(x),
        "num_train": len(t),
        "metric": metric,
        "nearest_indices": nn["indices"][:, 0],
        "nearest_similarity": nn["scores"][:, 0],
        "mean_nearest_similarity": float(np.mean(nn["scores"][:, 0])),
        "cosine_to_nearest": cosine_similarity(x, nearest),
    }
    if len(t) >= 2:
        memo = memorization_ratio(x, t, threshold=threshold)
        summary.update(memorization_ratio=memo["ratio"], distance_ratios=memo["distance_ratios"])
    series = {"sample vs closest train": summary["cosine_to_nearest"]}
    if compare is None and _npz_has(samples, "images_compare"):
        compare = (samples, "images_compare")
    rows = []
    if compare is not None:
        other = load_images(compare, num=None, size=x.shape[1], seed=0, channels=x.shape[-1])
        if other.shape != x.shape:
            raise ValueError(f"The compared samples have shape {other.shape}, not {x.shape}.")
        pair = cosine_similarity(x, other)
        summary.update(cosine_between_models=pair, mean_cosine_between_models=float(pair.mean()),
                       mean_correlation_between_models=float(
                           cosine_similarity(x, other, mean_removed=True).mean()))
        series["S1 vs S2 samples"] = pair
        other_nearest = t[nearest_neighbors(other, t, metric=metric)["indices"][:, 0]]
        rows = [{"n": len(t), "images": [nearest[i], x[i], other[i], other_nearest[i]],
                 "similarity": float(pair[i])} for i in range(min(4, len(x)))]
    else:
        rows = [{"n": len(t), "images": [nearest[i], x[i], x[i], nearest[i]]} for i in range(min(4, len(x)))]
    atomic_write_json(os.path.join(out_dir, "similarity.json"), summary)
    figures.similarity_histograms(os.path.join(out_dir, "similarity.png"), {len(t): series})
    figures.fig1_layout(os.path.join(out_dir, "nearest.png"), rows)
    return summary


def load_images(source, num=None, size=None, seed=0, channels=1, warn=False):
    """Images (n, H, W, C) float32 from a file (.npy, .npz, .png), a run folder, a dataset name, or an array.

    A run folder gives the images its model trained on
    (`keras_gahb.runs.training_images`; `(folder, "test")` its test images). A
    `(path, key)` tuple picks an array of an .npz file; otherwise an .npz
    file's "images" array (or its only array) is used. `num` keeps the first
    num images; `channels` converts gray <-> RGB (None keeps them; with `warn`,
    a conversion that loses colour or transparency issues a one-line warning
    naming the file). Shapes follow `keras_gahb.utils.as_image_batch`: a 3-D
    array is one image (H, W, C).
    """
    key = None
    if isinstance(source, tuple):
        source, key = source
    if isinstance(source, (str, os.PathLike)) and runs.is_run_folder(source):
        train, test = runs.training_images(source)  # what the run trained (and tested) on
        if key not in (None, "train", "test"):
            raise ValueError(f"A run folder's images are 'train' or 'test', not {key!r}.")
        array = test if key == "test" else train
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if os.path.exists(path) or os.path.splitext(path)[1].lower() in (".npy", ".npz", ".png"):
            array = read_image_file(path, key)
        else:
            from keras_gahb.data import get_images

            if num is None:
                raise ValueError(f"Pass a number of images to draw from dataset '{path}'.")
            if size is None:
                raise ValueError(f"Pass an image size to draw from dataset '{path}' (--size, the "
                                 "side the model was trained on).")
            array = get_images(path, num, size, seed=seed, channels=channels or 1)
    else:
        array = np.asarray(source)
    array = as_image_batch(array, _describe(source), channels=channels, warn=warn)
    return array[:num] if num is not None else array


def _describe(source):
    """What a source of images is called in messages: its file, dataset name, or "the images"."""
    if isinstance(source, tuple):
        return f"{os.fspath(source[0])} ({source[1]})"
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        is_file = os.path.exists(path) or os.path.splitext(path)[1].lower() in (".npy", ".npz", ".png")
        return path if is_file else f"the {path!r} images"
    return "the images"


def _model_images(source, denoiser, model, num, size, seed):
    """Images for `denoiser` from `source`, at its training size unless `size` says otherwise.

    Warns (one line, naming the source) when colour or transparency is lost to the
    model's channels or the size differs from the training size; raises a ValueError
    naming the source when the model cannot take the size.
    """
    trained = _default_size(None, denoiser, model)
    x = load_images(source, num=num, size=size or trained, seed=seed,
                    channels=image_channels(denoiser), warn=True)
    check_image_fits(x.shape[1:3], denoiser, _describe(source), f"the model {model_title(model)}",
                     trained)
    return x


def _npz_has(source, key):
    if not isinstance(source, (str, os.PathLike)) or not os.fspath(source).endswith(".npz"):
        return False
    if not os.path.exists(source):
        return False
    with np.load(source) as data:
        return key in data.files


def _default_size(size, denoiser, model):
    """`size`, else the model's fixed input side, else the image_size of its training run."""
    if size is not None:
        return size
    try:
        shape = denoiser.input_shape
    except (AttributeError, ValueError):
        shape = None
    if shape is not None and len(shape) == 4 and shape[1] is not None and shape[1] == shape[2]:
        return int(shape[1])
    return runs.trained_image_size(model)
