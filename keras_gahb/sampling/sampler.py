"""Stochastic coarse-to-fine gradient ascent: sampling from the prior implicit in a denoiser."""

import math
import warnings

import keras
import numpy as np

from keras_gahb.backend.compile import compile_function, functional_denoiser
from keras_gahb.sampling.linear_measurement import LinearMeasurement
from keras_gahb.sampling.noise import check_seed, counter_normal
from keras_gahb.sampling.sample_result import SampleResult


def step_size(t, h0):
    """h_t = h0 t / (1 + h0 (t - 1)): grows from h0 at t = 1 towards 1."""
    return h0 * t / (1.0 + h0 * (t - 1))


def noise_scale(h, beta):
    """gamma_t / sigma_t = sqrt((1 - beta h)^2 - (1 - h)^2)."""
    return math.sqrt(max((1.0 - beta * h) ** 2 - (1.0 - h) ** 2, 0.0))


def sample(
    denoiser,
    shape,
    seed=0,
    h0=0.01,
    beta=0.1,
    sigma0=1.0,
    sigma_final=0.01,
    mean=0.5,
    max_steps=1000,
    snapshot_every=None,
    operator=None,
    measurements=None,
    divergence_sigma=2.0,
    floor_factor=2.0,
    batch_size=None,
    compiled=True,
    verbose=0,
    initial=None,
    first_step=1,
):
    """Draw images from the prior implicit in a blind denoiser (Kadkhodaie & Simoncelli).

    With f the denoiser and D the number of pixels per image, every image of
    the batch runs, on its own:

        x_0 ~ N(mean, sigma0^2 I);  for t = 1, 2, ...:
            d_t = f(x_{t-1}) - x_{t-1},      sigma_t = ||d_t|| / sqrt(D),
            stop if sigma_t <= sigma_final (converged), sigma_t > divergence_sigma
                 or non-finite (diverged), or t = max_steps;
            h_t = h0 t / (1 + h0 (t - 1)),
            gamma_t^2 = ((1 - beta h_t)^2 - (1 - h_t)^2) sigma_t^2,
            x_t = x_{t-1} + h_t d_t + gamma_t z_t,   z_t ~ N(0, I).

    A stopped image is frozen; its output is the last denoising x + d_t =
    f(x_{t-1}), whose estimated noise level is the last sigma_t (so at most
    `sigma_final` for a converged image).

    **Outcomes.** Every image ends in one of four outcomes
    (`keras_gahb.sampling.OUTCOMES`, `result.outcomes`): "reached"
    (sigma_t <= sigma_final, `result.converged`), "floor" (`result.at_floor`,
    below), "diverged" (`result.diverged`) or "max_steps"
    (`result.hit_max_steps`).

    **Noise floor.** A denoiser that is worse than the identity at low noise
    (briefly trained models are) cannot take sigma_t below its own error
    floor: sigma_t bottoms out above `sigma_final` and the iteration, which
    keeps re-injecting noise, wanders off and eventually diverges. The
    schedule says how fast sigma_t should fall: by (1 - beta h_t) per step.
    So an image whose sigma_t has set no new minimum while the schedule
    should have divided the noise by `floor_factor` (prod of (1 - beta h_s)
    over the steps since the minimum <= 1 / floor_factor) stops at that
    floor: its output is the denoising at the step of the minimum,
    `result.at_floor` flags it (it is not `converged`: it did not reach
    sigma_final) and `result.final_sigmas` holds the floor. A denoiser whose
    sigma_t keeps falling never meets the rule, so the paper's algorithm is
    unchanged for it (tested on the optimal denoiser of a Gaussian prior).
    `keras_gahb.sampling.clean_image_floor` measures the floor independently:
    ||f(x) - x|| / sqrt(D) on clean images. beta = 1 gives the deterministic
    variant (gamma_t = 0); smaller beta injects more noise.

    x_0 and every z_t of image i are drawn from a counter-based generator keyed
    on (seed, i, t) (see `counter_normal`): they do not depend on the denoiser,
    the batch size or the backend, so two denoisers sampled with the same seed
    get identical x_0 and z_t (the paper's model comparisons).

    With a linear `operator` (an `Inpainting`, `SuperResolution`, `RandomPixels`,
    `CompressiveSensing` or other `LinearMeasurement`) and `measurements` c, the
    same loop solves the inverse problem: x_0 ~ N(mean (I - P) 1 + M c,
    sigma0^2 I) and d_t = (I - P)(f(x) - x) + (M c - P x), with P = M M^T.

    Args:
        denoiser: a Keras model (called with `training=False`) or a callable
            mapping a float32 batch (B, H, W, C) to the denoised batch.
        shape: tuple (num_images, height, width, channels).
        seed: int >= 0. Defaults to 0.
        h0: float in (0, 1], the first step size. Defaults to 0.01.
        beta: float in (0, 1], the fraction of noise removed per step
            (1 = deterministic). Defaults to 0.1.
        sigma0: float > 0, standard deviation of x_0. Defaults to 1.0.
        sigma_final: float in (0, sigma0), the stopping noise level.
            Defaults to 0.01 (the paper uses 0.05 in its figures).
        mean: float or array broadcastable to (H, W, C), the mean of x_0.
            Defaults to 0.5.
        max_steps: int >= 1, the most iterations per image. Defaults to 1000.
        snapshot_every: optional int k >= 1; keep the iterates x_t every k
            steps in `result.snapshots`. Defaults to None.
        operator: optional `LinearMeasurement` for an inverse problem.
        measurements: the measurements c (batch of num_images or 1) when
            `operator` is given, e.g. `operator.measure(clean_images)`.
        divergence_sigma: float, sigma_t above this flags divergence.
            Defaults to 2.0 (as in the authors' code).
        floor_factor: float > 1 or None; stop an image at its noise floor
            when sigma_t has set no new minimum while the schedule should
            have divided the noise by this factor (see above). None never
            stops there (the paper's loop verbatim). Defaults to 2.0.
        batch_size: optional int; images are sampled in batches of this size
            (results do not depend on it). Defaults to all images at once.
        compiled: bool, compile the step with the backend's compiler
            (`compile_function`). Set False for denoisers that are not
            traceable. Defaults to True.
        verbose: 0 (silent) or 1 (a progress bar). Defaults to 0.
        initial: optional (num_images, H, W, C) starting points x_0 instead of
            the draw from N(mean, sigma0^2 I), e.g. an iterate of an earlier
            run to continue it (branching). Defaults to None.
        first_step: int >= 1, the index t of the first iteration (sets the
            step sizes h_t and the noise keys); continue a run from step t with
            first_step = t + 1. Defaults to 1.

    Returns:
        A `SampleResult` (images, initial, sigmas, steps, converged, diverged,
        at_floor, snapshots, snapshot_steps, config). A warning is issued when any image
        diverged.

    Example:

    >>> model = keras_gahb.models.from_preset("unet_tiny")
    >>> result = keras_gahb.sampling.sample(model, (2, 16, 16, 1), seed=0, max_steps=5)
    >>> result.images.shape, result.steps.tolist()
    ((2, 16, 16, 1), [5, 5])

    Reference:
        Kadkhodaie, Simoncelli, "Solving linear inverse problems using the
        prior implicit in a denoiser", NeurIPS 2021,
        https://arxiv.org/abs/2007.13640 ; used by Kadkhodaie, Guth,
        Simoncelli, Mallat, ICLR 2024, https://arxiv.org/abs/2310.02557
    """
    shape = _check_shape(shape)
    seed = check_seed(seed)
    num, image_shape = shape[0], shape[1:]
    h0, beta, sigma0, sigma_final, divergence_sigma = check_step_arguments(
        h0, beta, sigma0, sigma_final, divergence_sigma
    )
    max_steps = _check_int("max_steps", max_steps, minimum=1)
    first_step = _check_int("first_step", first_step, minimum=1)
    start_images = None
    if initial is not None:
        start_images = np.asarray(keras.ops.convert_to_numpy(initial), np.float32)
        if start_images.shape != shape or not np.all(np.isfinite(start_images)):
            raise ValueError(f"`initial` must be finite with shape {shape}; got {start_images.shape}.")
    if snapshot_every is not None:
        snapshot_every = _check_int("snapshot_every", snapshot_every, minimum=1)
    if floor_factor is not None:
        if isinstance(floor_factor, bool) or not isinstance(floor_factor, (int, float, np.number)) \
                or not floor_factor > 1.0 or not math.isfinite(floor_factor):
            raise ValueError(
                f"`floor_factor` must be a number > 1 (or None to never stop at a noise "
                f"floor), got {floor_factor!r}."
            )
        floor_factor = float(floor_factor)
    batch_size = num if batch_size is None else _check_int("batch_size", batch_size, minimum=1)
    mean = _check_mean(mean, image_shape)
    backprojected = _check_operator(operator, measurements, num, image_shape)

    config = {
        "shape": list(shape),
        "seed": seed,
        "h0": h0,
        "beta": beta,
        "sigma0": sigma0,
        "sigma_final": sigma_final,
        "mean": float(mean) if mean.size == 1 else "array",
        "max_steps": max_steps,
        "snapshot_every": snapshot_every,
        "divergence_sigma": divergence_sigma,
        "floor_factor": floor_factor,
        "first_step": first_step,
        "initial": None if initial is None else "array",
        "operator": None if operator is None else {"class": type(operator).__name__,
                                                     **operator.get_config()},
    }

    denoise, state = functional_denoiser(denoiser, example=np.full((1,) + image_shape, 0.5, "float32"))
    step = _make_step(denoise, operator, sigma_final, divergence_sigma)
    if compiled:
        step = compile_function(step)

    images, initial, sigmas = [], [], [None] * num
    steps = np.zeros(num, np.int64)
    converged = np.zeros(num, bool)
    diverged = np.zeros(num, bool)
    at_floor = np.zeros(num, bool)
    snapshot_chunks = []
    for start in range(0, num, batch_size):
        indices = np.arange(start, min(num, start + batch_size))
        chunk = _run_batch(
            step, state, indices, image_shape, seed, h0, beta, sigma0, mean,
            max_steps, snapshot_every, operator,
            None if backprojected is None else backprojected[indices], floor_factor, verbose,
            None if start_images is None else start_images[indices], first_step,
        )
        images.append(chunk["images"])
        initial.append(chunk["initial"])
        for row, index in enumerate(indices):
            sigmas[index] = chunk["sigmas"][row]
        steps[indices] = chunk["steps"]
        converged[indices] = chunk["converged"]
        diverged[indices] = chunk["diverged"]
        at_floor[indices] = chunk["at_floor"]
        snapshot_chunks.append(chunk)

    snapshots, snapshot_steps = _merge_snapshots(snapshot_chunks, snapshot_every)
    result = SampleResult(
        images=np.concatenate(images),
        initial=np.concatenate(initial),
        sigmas=sigmas,
        steps=steps,
        converged=converged,
        diverged=diverged,
        at_floor=at_floor,
        snapshots=snapshots,
        snapshot_steps=snapshot_steps,
        config=config,
    )
    if diverged.any():
        warnings.warn(
            f"{int(diverged.sum())} of {num} images diverged (sigma_t > {divergence_sigma} or "
            "non-finite); they are flagged in result.diverged. Check that the denoiser was "
            "trained on images like these (size, range [0, 1], channels) and at noise levels "
            "up to sigma0.",
            RuntimeWarning,
            stacklevel=2,
        )
    return result


def solve_inverse_problem(denoiser, operator, measurements, num_samples=None, seed=0, **kwargs):
    """Sample images x with `operator.measure(x) = measurements` from the implicit prior.

    A thin wrapper around `sample(denoiser, shape, operator=..., measurements=...)`:
    the shape comes from the operator, and `num_samples` solutions are drawn
    (default: one per measurement; a single measurement may be repeated).

    Args:
        denoiser: a Keras model or callable, as in `sample`.
        operator: a `LinearMeasurement` (`Inpainting`, `SuperResolution`, ...).
        measurements: the measurements, batch first, e.g.
            `operator.measure(clean_images)`.
        num_samples: optional int, number of solutions. Defaults to the
            number of measurements.
        seed: int. Defaults to 0.
        **kwargs: any other argument of `sample`.

    Example:

    >>> op = keras_gahb.sampling.SuperResolution((16, 16, 1), factor=4)
    >>> clean = np.random.rand(1, 16, 16, 1).astype("float32")
    >>> result = keras_gahb.sampling.solve_inverse_problem(
    ...     model, op, op.measure(clean), num_samples=4, max_steps=5)
    >>> result.images.shape
    (4, 16, 16, 1)

    Reference:
        Kadkhodaie, Simoncelli, NeurIPS 2021, https://arxiv.org/abs/2007.13640
    """
    if not isinstance(operator, LinearMeasurement):
        raise ValueError(
            f"`operator` must be a keras_gahb.sampling.LinearMeasurement, got "
            f"{type(operator).__name__}."
        )
    count = int(keras.ops.shape(measurements)[0])
    num_samples = count if num_samples is None else _check_int("num_samples", num_samples, 1)
    return sample(
        denoiser, (num_samples,) + operator.image_shape, seed=seed, operator=operator,
        measurements=measurements, **kwargs,
    )


# === Private helpers ===


def _make_step(denoise, operator, sigma_final, divergence_sigma):
    ops = keras.ops

    def step(state, x, final, best, best_sigma, active, noise, h, gamma_scale, last,
             backprojected):
        denoised = denoise(state, x)
        _check_denoiser_output(denoised, x)  # at trace time when compiled
        d = denoised - x
        if operator is not None:
            d = d - operator.project(d) + backprojected - operator.project(x)
        sigma = ops.sqrt(ops.mean(ops.square(d), axis=(1, 2, 3)))
        converged = ops.logical_and(active, sigma <= sigma_final)
        bad = ops.logical_or(sigma > divergence_sigma, ops.logical_not(ops.isfinite(sigma)))
        diverged = ops.logical_and(ops.logical_and(active, bad), ops.logical_not(converged))
        stop = ops.logical_or(ops.logical_or(converged, diverged), ops.logical_and(active, last))
        keep = ops.logical_and(active, ops.logical_not(stop))
        gamma = ops.reshape(gamma_scale * sigma, (-1, 1, 1, 1))
        x_next = ops.where(ops.reshape(keep, (-1, 1, 1, 1)), x + h * d + gamma * noise, x)
        final = ops.where(ops.reshape(stop, (-1, 1, 1, 1)), x + d, final)
        improved = ops.logical_and(active, sigma < best_sigma)
        best = ops.where(ops.reshape(improved, (-1, 1, 1, 1)), x + d, best)
        best_sigma = ops.where(improved, sigma, best_sigma)
        return x_next, final, best, best_sigma, keep, sigma, converged, diverged

    return step


def _run_batch(step, state, indices, image_shape, seed, h0, beta, sigma0, mean,
               max_steps, snapshot_every, operator, backprojected, floor_factor, verbose,
               initial=None, first_step=1):
    n = len(indices)
    x0 = sigma0 * counter_normal(seed, indices, 0, image_shape)
    if initial is not None:
        x0 = initial.copy()
        if backprojected is None:
            backprojected = np.zeros((n,) + image_shape, np.float32)
    elif operator is None:
        x0 += mean
        backprojected = np.zeros((n,) + image_shape, np.float32)
    else:
        mean_image = np.broadcast_to(mean, (1,) + image_shape).astype(np.float32)
        unmeasured = mean_image - keras.ops.convert_to_numpy(operator.project(mean_image))
        x0 += unmeasured + backprojected
    x0 = x0.astype(np.float32)

    to_tensor = keras.ops.convert_to_tensor
    x = to_tensor(x0)
    final = to_tensor(np.zeros_like(x0))
    best = to_tensor(np.zeros_like(x0))
    best_sigma = to_tensor(np.full(n, np.inf, np.float32))
    active = to_tensor(np.ones(n, bool))
    backprojected = to_tensor(backprojected)
    active_np = np.ones(n, bool)
    trajectories = [[] for _ in range(n)]
    converged = np.zeros(n, bool)
    diverged = np.zeros(n, bool)
    at_floor = np.zeros(n, bool)
    lowest = np.full(n, np.inf)
    shrink_since_lowest = np.ones(n)  # prod of (1 - beta h_s) since each image's minimum
    snapshots = {}
    bar = None
    if verbose:
        bar = keras.utils.Progbar(None, stateful_metrics=["max_sigma", "active"], unit_name="step")
    t = 0
    last_step = first_step + max_steps - 1
    for t in range(first_step, last_step + 1):
        h = step_size(t, h0)
        gamma_scale = noise_scale(h, beta)
        noise = np.zeros((n,) + image_shape, np.float32)
        if gamma_scale > 0:
            noise[active_np] = counter_normal(seed, indices[active_np], t, image_shape)
        x, final, best, best_sigma, active, sigma, newly_converged, newly_diverged = step(
            state, x, final, best, best_sigma, active, to_tensor(noise),
            to_tensor(h, "float32"), to_tensor(gamma_scale, "float32"),
            to_tensor(t == last_step), backprojected,
        )
        sigma = keras.ops.convert_to_numpy(sigma)
        for row in np.flatnonzero(active_np):
            trajectories[row].append(float(sigma[row]))
        converged |= keras.ops.convert_to_numpy(newly_converged)
        diverged |= keras.ops.convert_to_numpy(newly_diverged)
        was_active = active_np
        active_np = keras.ops.convert_to_numpy(active).astype(bool)
        if floor_factor is not None:
            # The same test as the step's `sigma < best_sigma`, on the same float32 values.
            improved = was_active & (sigma < lowest)
            lowest = np.where(improved, sigma, lowest)
            shrink_since_lowest = np.where(improved, 1.0, shrink_since_lowest * (1.0 - beta * h))
            floor = active_np & (shrink_since_lowest * floor_factor <= 1.0)
            if floor.any():
                at_floor |= floor
                active_np = active_np & ~floor
                active = to_tensor(active_np)
        if snapshot_every and t % snapshot_every == 0:
            snapshots[t] = keras.ops.convert_to_numpy(x)
        if bar is not None:
            bar.update(t, [("max_sigma", float(np.max(sigma[was_active]))),
                           ("active", int(active_np.sum()))])
        if not active_np.any():
            break
    if bar is not None:
        bar.update(t, finalize=True)
    images = keras.ops.convert_to_numpy(final)
    if at_floor.any():
        images[at_floor] = keras.ops.convert_to_numpy(best)[at_floor]
    return {
        "images": images,
        "initial": x0,
        "sigmas": [np.asarray(s) for s in trajectories],
        "steps": np.array([len(s) for s in trajectories]),
        "converged": converged,
        "diverged": diverged,
        "at_floor": at_floor,
        "snapshots": snapshots,
        "last": keras.ops.convert_to_numpy(x),
        "num_steps": t,
    }


def _merge_snapshots(chunks, snapshot_every):
    if not snapshot_every:
        return None, []
    last_step = max(chunk["num_steps"] for chunk in chunks)
    snapshot_steps = list(range(snapshot_every, last_step + 1, snapshot_every))
    if not snapshot_steps:
        return None, []
    rows = []
    for t in snapshot_steps:
        rows.append(np.concatenate([chunk["snapshots"].get(t, chunk["last"]) for chunk in chunks]))
    return np.stack(rows), snapshot_steps


def _check_denoiser_output(out, x):
    known = [(a, b) for a, b in zip(tuple(out.shape), tuple(x.shape)) if None not in (a, b)]
    if len(out.shape) != len(x.shape) or any(a != b for a, b in known):
        raise ValueError(
            f"The denoiser returned shape {tuple(out.shape)} for an input of shape "
            f"{tuple(x.shape)}; it must return denoised images of the input's shape. Check "
            "the image size and channels passed to the sampler."
        )


def _check_shape(shape):
    try:
        shape = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"`shape` must be (num_images, height, width, channels); got {shape!r}."
        ) from None
    if len(shape) != 4 or min(shape) < 1:
        raise ValueError(
            f"`shape` must be (num_images, height, width, channels) of positive ints; got "
            f"{shape}. For one grayscale 40x40 image use (1, 40, 40, 1)."
        )
    return shape


def check_step_arguments(h0, beta, sigma0, sigma_final, divergence_sigma):
    values = {"h0": h0, "beta": beta, "sigma0": sigma0, "sigma_final": sigma_final,
              "divergence_sigma": divergence_sigma}
    for name, value in values.items():
        try:
            values[name] = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"`{name}` must be a number, got {value!r}.") from None
        if math.isnan(values[name]):
            raise ValueError(f"`{name}` must not be NaN.")
    h0, beta, sigma0, sigma_final, divergence_sigma = values.values()
    if not 0.0 < h0 <= 1.0:
        raise ValueError(f"`h0` must be in (0, 1], got {h0}. The paper uses 0.01.")
    if not 0.0 < beta <= 1.0:
        raise ValueError(
            f"`beta` must be in (0, 1] (1 = deterministic), got {beta}. The paper uses 0.1."
        )
    if not (0.0 < sigma0 and math.isfinite(sigma0)):
        raise ValueError(f"`sigma0` must be a positive finite number, got {sigma0}.")
    if not 0.0 < sigma_final < sigma0:
        raise ValueError(
            f"`sigma_final` must be in (0, sigma0) = (0, {sigma0}), got {sigma_final}."
        )
    if not divergence_sigma > sigma_final:
        raise ValueError(
            f"`divergence_sigma` must be larger than sigma_final, got {divergence_sigma}."
        )
    return h0, beta, sigma0, sigma_final, divergence_sigma


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}, got {value!r}.")
    return int(value)


def _check_mean(mean, image_shape):
    try:
        mean = np.asarray(mean, dtype=np.float32)
        np.broadcast_to(mean, image_shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"`mean` must be a number or an array broadcastable to {image_shape}; got "
            f"shape {np.shape(mean)}."
        ) from None
    if not np.all(np.isfinite(mean)):
        raise ValueError("`mean` must be finite.")
    return mean


def _check_operator(operator, measurements, num, image_shape):
    if operator is None:
        if measurements is not None:
            raise ValueError("`measurements` were given without an `operator`.")
        return None
    if not isinstance(operator, LinearMeasurement):
        raise ValueError(
            f"`operator` must be a keras_gahb.sampling.LinearMeasurement (Inpainting, "
            f"SuperResolution, RandomPixels, CompressiveSensing), got {type(operator).__name__}."
        )
    if tuple(operator.image_shape) != tuple(image_shape):
        raise ValueError(
            f"The operator was built for images of shape {operator.image_shape}, but the "
            f"sampler was asked for {image_shape}."
        )
    if measurements is None:
        raise ValueError(
            "An `operator` needs `measurements`, e.g. measurements=operator.measure(images)."
        )
    try:
        backprojected = keras.ops.convert_to_numpy(operator.backproject(measurements))
    except Exception as error:  # shape errors differ by backend; report them uniformly
        raise ValueError(
            f"`measurements` of shape {tuple(np.shape(measurements))} do not fit "
            f"{type(operator).__name__} ({error}). Use measurements=operator.measure(images)."
        ) from None
    backprojected = np.asarray(backprojected, np.float32)
    if backprojected.shape[1:] != tuple(image_shape) or backprojected.shape[0] not in (1, num):
        raise ValueError(
            f"`measurements` must hold 1 or {num} measurements of {type(operator).__name__}; "
            f"they back-project to shape {backprojected.shape}."
        )
    if not np.all(np.isfinite(backprojected)):
        raise ValueError("`measurements` contain non-finite values.")
    return np.broadcast_to(backprojected, (num,) + tuple(image_shape)).copy()
