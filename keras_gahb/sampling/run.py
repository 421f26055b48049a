"""`gahb sample` as one library call: sample a saved model and write a folder of results."""

import os

import keras
import numpy as np

from keras_gahb import runs
from keras_gahb.metrics import cosine_similarity
from keras_gahb.models.loading import check_image_fits, image_channels, load_denoiser, model_title
from keras_gahb.sampling import plots
from keras_gahb.sampling.compressive_sensing import CompressiveSensing
from keras_gahb.sampling.inpainting import Inpainting
from keras_gahb.sampling.random_pixels import RandomPixels
from keras_gahb.sampling.sampler import check_step_arguments, sample
from keras_gahb.sampling.super_resolution import SuperResolution
from keras_gahb.utils import atomic_write_json, save_image_grid, save_npz_atomic
from keras_gahb.utils.images import as_image_batch, read_image_file

#: The inverse problems of `gahb sample --task`.
TASKS = ("inpaint", "superres", "missing", "compressive")


def run_sampling(
    out_dir,
    model,
    num=16,
    seed=0,
    size=None,
    compare=None,
    task=None,
    image=None,
    factor=4,
    fraction=0.1,
    verbose=1,
    **sampler_kwargs,
):
    """Sample `num` images from a denoiser and write them, their grid and sigma trajectories.

    Writes to `out_dir`: `samples.npz` (images, initial, sigmas padded with
    NaN, steps, converged, diverged, at_floor, hit_max_steps: one outcome per image, see
    `keras_gahb.sampling.OUTCOMES`; plus `images_compare` with `compare` and
    `clean`, `measured` with `task`), `grid.png`, `sigmas.json`, `sigmas.png`,
    `config.json`, `summary.json` (with "outcome_counts"); with `compare` also `compare.png`
    (the two models side by side, same positions = same noise, titled by run folder) and
    `compare.json` (the per-image cosine similarity, plain and mean-removed, and
    `mean_correlation_converged`: the mean correlation over the samples where
    both samplers converged, what a reproduction's report gives).
    Figures are titled by run folder (`keras_gahb.models.model_title`).

    Args:
        out_dir: folder to write (created).
        model: path to a .keras denoiser, a run folder (its model.keras), or a
            Keras model / callable.
        num: int, number of samples. Defaults to 16.
        seed: int. Defaults to 0.
        size: optional int, image side; defaults to the model's fixed input
            size, else the size its run folder records
            (`keras_gahb.runs.trained_image_size`), or to the image's size with `task`.
        compare: optional second model (path, run folder or model), sampled
            with the same seed (same x_0 and z_t).
        task: optional inverse problem, one of "inpaint", "superres",
            "missing", "compressive"; needs `image`.
        image: path to a .png or .npy image (H, W) or (H, W, C) in [0, 1], or
            an array, measured for `task`. Colour made gray (or a transparent
            alpha dropped) and a size other than the training size warn in one
            line naming the file; a size the model cannot take raises a
            ValueError naming it.
        factor: int, the super-resolution block size. Defaults to 4.
        fraction: float, known pixels ("missing") or measurements per pixel
            ("compressive"). Defaults to 0.1.
        verbose: int, show a progress bar. Defaults to 1.
        **sampler_kwargs: arguments of `keras_gahb.sampling.sample` (h0, beta,
            sigma0, sigma_final, mean, max_steps, floor_factor, batch_size, ...).

    Returns:
        dict, the contents of `summary.json`.

    Example:

    >>> keras_gahb.sampling.run_sampling("out/samples", "model.keras", num=4, size=16)
    """
    check_step_arguments(*(sampler_kwargs.get(name, default) for name, default in (
        ("h0", 0.01), ("beta", 0.1), ("sigma0", 1.0), ("sigma_final", 0.01),
        ("divergence_sigma", 2.0))))
    denoiser, model_name = load_denoiser(model, presets=False)
    title = model_title(model)
    channels = image_channels(denoiser)
    trained = _trained_size(denoiser, model)
    operator = measurements = clean = None
    if task is not None:
        if image is None:
            raise ValueError(f"--task {task} needs an image to measure: pass --image FILE.png|.npy.")
        clean = load_image(image, channels)
        source = os.fspath(image) if isinstance(image, (str, os.PathLike)) else "the image"
        check_image_fits(clean.shape[:2], denoiser, source, f"the model {title}", trained)
        operator = make_operator(task, clean.shape, factor=factor, fraction=fraction, seed=seed)
        measurements = operator.measure(clean[None])
        image_shape = clean.shape
    elif image is not None:
        raise ValueError("--image is only used with --task (inpaint, superres, missing, compressive).")
    else:
        image_shape = (*_image_size(denoiser, size, trained), channels)
        check_image_fits(image_shape[:2], denoiser, f"The sample size (--size {image_shape[0]})",
                         f"the model {title}", trained)

    shape = (int(num),) + tuple(image_shape)
    result = sample(denoiser, shape, seed=seed, operator=operator, measurements=measurements,
                    verbose=verbose, **sampler_kwargs)
    arrays = {
        "images": result.images,
        "initial": result.initial,
        "sigmas": result.sigma_matrix(),
        "steps": result.steps,
        "converged": result.converged,
        "diverged": result.diverged,
        "at_floor": result.at_floor,
        "hit_max_steps": result.hit_max_steps,
    }
    counts = result.outcome_counts()
    summary = {"model": model_name, "out_dir": os.fspath(out_dir), "summary": result.summary(),
               "outcome_counts": counts,
               "num_converged": counts["reached"],
               "num_at_floor": counts["floor"],
               "num_diverged": counts["diverged"],
               "num_max_steps": counts["max_steps"]}
    grid_images = result.images
    if task is not None:
        measured = keras.ops.convert_to_numpy(operator.backproject(measurements))[0]
        arrays.update(clean=clean, measured=measured)
        grid_images = np.concatenate([clean[None], measured[None], result.images])
        mse = np.mean((result.images - clean[None]) ** 2, axis=(1, 2, 3))
        summary["task"] = task
        summary["operator"] = {"class": type(operator).__name__, **operator.get_config()}
        summary["psnr"] = [float(10 * np.log10(1.0 / max(m, 1e-12))) for m in mse]
        summary["mean_psnr"] = float(np.mean(summary["psnr"]))
    result_compare = None
    if compare is not None:
        denoiser_b, name_b = load_denoiser(compare, presets=False)
        result_compare = sample(denoiser_b, shape, seed=seed, operator=operator,
                                measurements=measurements, verbose=verbose, **sampler_kwargs)
        arrays["images_compare"] = result_compare.images
        cosine = cosine_similarity(result.images, result_compare.images)
        cosine_centred = cosine_similarity(result.images, result_compare.images, mean_removed=True)
        both = np.asarray(result.converged, bool) & np.asarray(result_compare.converged, bool)
        comparison = {
            "model": model_name,
            "compare": name_b,
            "seed": seed,
            "cosine_similarity": cosine.tolist(),
            "cosine_similarity_mean_removed": cosine_centred.tolist(),
            "mean_cosine_similarity": float(np.mean(cosine)),
            "mean_cosine_similarity_mean_removed": float(np.mean(cosine_centred)),
            # What the reproduction's report gives: only samples where both samplers converged.
            "num_both_converged": int(both.sum()),
            "mean_correlation_converged": (float(np.mean(cosine_centred[both])) if both.any()
                                           else float("nan")),
        }
        atomic_write_json(os.path.join(out_dir, "compare.json"), comparison)
        plots.save_comparison_grid(
            os.path.join(out_dir, "compare.png"), result.images, result_compare.images,
            titles=(model_title(model), model_title(compare)),
        )
        summary["compare"] = {k: v for k, v in comparison.items()
                              if k.startswith("mean") or k == "num_both_converged"}
        summary["compare_summary"] = result_compare.summary()
        summary["compare_outcome_counts"] = result_compare.outcome_counts()
        summary["compare_model"] = name_b

    save_npz_atomic(os.path.join(out_dir, "samples.npz"), **arrays)
    save_image_grid(grid_images, os.path.join(out_dir, "grid.png"), columns=min(len(grid_images), 8))
    sigmas = {"model": model_name, **result.to_dict()}
    if result_compare is not None:
        sigmas["compare"] = {"model": comparison["compare"], **result_compare.to_dict()}
    atomic_write_json(os.path.join(out_dir, "sigmas.json"), sigmas)
    plots.plot_sigma_trajectories(
        os.path.join(out_dir, "sigmas.png"), result.sigmas, result.config["sigma_final"],
        title=f"sigma_t, {model_title(model)}",
    )
    config = {"model": model_name, "num": int(num), "seed": seed, "compare": None, "task": task,
              "image": image if isinstance(image, (str, os.PathLike)) else None,
              "factor": factor, "fraction": fraction, "sampler": result.config,
              "backend": keras.backend.backend()}
    if compare is not None:
        config["compare"] = comparison["compare"]
    atomic_write_json(os.path.join(out_dir, "config.json"), config)
    atomic_write_json(os.path.join(out_dir, "summary.json"), summary)
    return summary


def make_operator(task, image_shape, factor=4, fraction=0.1, seed=0):
    """The `LinearMeasurement` of a task name ("inpaint", "superres", "missing", "compressive")."""
    if task == "inpaint":
        return Inpainting.box(image_shape)
    if task == "superres":
        return SuperResolution(image_shape, factor=factor)
    if task == "missing":
        return RandomPixels(image_shape, fraction=fraction, seed=seed)
    if task == "compressive":
        return CompressiveSensing(image_shape, fraction=fraction, seed=seed)
    raise ValueError(f"Unknown task '{task}'. Valid tasks: {', '.join(TASKS)}.")


def load_image(image, channels=1):
    """Read a .png/.npy image (or take an array) as float32 (H, W, channels) in [0, 1].

    A conversion that loses something (a colour image made gray, a transparent
    alpha channel dropped) issues a one-line warning naming the file.
    """
    name = "the image"
    if isinstance(image, (str, os.PathLike)):
        path = name = os.fspath(image)
        if not os.path.exists(path):
            raise FileNotFoundError(f"Image not found: {path}")
        if not path.lower().endswith((".npy", ".png")):
            raise ValueError(f"Images must be .png or .npy files, got {path}.")
        image = read_image_file(path)
    array = as_image_batch(image, name, channels=channels, warn=True)
    if len(array) != 1:
        raise ValueError(f"Expected one image (H, W) or (H, W, C) in {name}; got {len(array)} images.")
    array = array[0]
    if array.min() < -0.01 or array.max() > 1.01:
        raise ValueError(
            f"{name} must have values in [0, 1]; got [{array.min():.3g}, {array.max():.3g}]. "
            "Divide 8-bit images by 255."
        )
    return array


def _trained_size(denoiser, model):
    """(H, W) the model takes or was trained on: its fixed input size, else its run's config.json."""
    if isinstance(denoiser, keras.Model):
        try:
            height, width = denoiser.input_shape[1:3]
        except (AttributeError, ValueError, TypeError):
            height = width = None
        if height is not None and width is not None:
            return int(height), int(width)
    side = runs.trained_image_size(model)  # the size the run folder of the model records
    return None if side is None else (side, side)


def _image_size(denoiser, size, trained):
    if size is not None:
        return int(size), int(size)
    if trained is not None:  # the model's fixed size, or the size its run folder records
        return trained
    raise ValueError(
        "The model accepts any image size and it is not in a run folder that records the size "
        "it was trained on: pass --size (the image side it was trained on)."
    )
