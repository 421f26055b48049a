"""Noise-level probes of the reverse process: where two models agree, and where a sample is decided.

- `trajectory_agreement`: run the sampler with model f1, and at every iterate
  x_t compare the two models' denoised estimates f1(x_t) and f2(x_t) as a
  function of the iterate's noise level sigma_t. Two models trained on
  disjoint sets that generalize agree at every sigma; memorizers agree only at
  large sigma (where both return the mean) and disagree at small sigma.
- `branching`: run the sampler down to sigma_t, then continue from that iterate
  in several branches with fresh noise and measure how similar the endpoints
  are. Near 1: the sample's identity was already decided at sigma_t.

Reference: Kadkhodaie et al. (2024), https://arxiv.org/abs/2310.02557 (Fig 1);
Biroli, Bonnaire, de Bortoli, Mezard (2024), "Dynamical regimes of diffusion
models", https://arxiv.org/abs/2402.18491 (speciation time).
"""

import numpy as np

from keras_gahb.analysis.measures import cosine_similarity, denoise, nearest_neighbors
from keras_gahb.sampling.sampler import sample


def trajectory_agreement(f1, f2, shape, seed=0, num_bins=8, batch_size=64, **sampler_options):
    """Agreement of two denoisers along f1's sampling trajectories, binned by noise level.

    Args:
        f1, f2: denoisers (Keras models or callables).
        shape: (num_images, H, W, C) of the sampler.
        seed: sampler seed. Default 0.
        num_bins: log-spaced sigma bins. Default 8.
        batch_size: images per denoiser call. Default 64.
        **sampler_options: passed to `keras_gahb.sampling.sample` (h0, beta,
            sigma_final, max_steps, ...).

    Returns:
        dict: "sigma" (bin centres), "correlation" (mean over iterates in the
        bin of the correlation of f1(x_t) and f2(x_t)), "relative_difference"
        (sum ||f1 - f2||^2 / sum ||f1 - x_t||^2 in the bin), "count" (iterates
        per bin), and "samples" (f1's final images).

    Example:

    >>> a = keras_gahb.analysis.trajectory_agreement(m1, m2, (4, 16, 16, 1), h0=0.1, beta=0.5)
    """
    result = sample(f1, shape, seed=seed, snapshot_every=1, **sampler_options)
    iterates = np.concatenate([result.initial[None], result.snapshots])     # (T + 1, n, H, W, C)
    active = np.zeros(iterates.shape[:2], bool)
    for i, steps in enumerate(result.steps):
        active[:int(steps), i] = True          # x_{t-1} was denoised at step t <= steps
    points = iterates[active]
    out1 = denoise(f1, points, batch_size).astype(np.float64)
    out2 = denoise(f2, points, batch_size).astype(np.float64)
    residual = np.sum((out1 - points) ** 2, axis=(1, 2, 3))
    sigma = np.sqrt(residual / np.prod(points.shape[1:]))
    correlation = cosine_similarity(out1, out2, mean_removed=True)
    difference = np.sum((out1 - out2) ** 2, axis=(1, 2, 3))
    edges = np.geomspace(max(sigma.min(), 1e-6), sigma.max() * 1.0001, int(num_bins) + 1)
    which = np.clip(np.searchsorted(edges, sigma, side="right") - 1, 0, int(num_bins) - 1)
    centres, corr, rel, count = [], [], [], []
    for b in range(int(num_bins)):
        pick = which == b
        if not pick.any():
            continue
        centres.append(float(np.sqrt(edges[b] * edges[b + 1])))
        corr.append(float(correlation[pick].mean()))
        rel.append(float(difference[pick].sum() / max(residual[pick].sum(), 1e-30)))
        count.append(int(pick.sum()))
    return {"sigma": np.array(centres), "correlation": np.array(corr),
            "relative_difference": np.array(rel), "count": np.array(count), "samples": result.images}


def branching(denoiser, shape, branch_sigmas, num_branches=4, seed=0, train_images=None,
              **sampler_options):
    """Endpoint similarity of sampler branches split at noise level sigma_t (where identity is decided).

    For each image of the trunk run (sampler from `seed`) and each sigma_t in
    `branch_sigmas`, the trunk is run until its noise level first falls below
    sigma_t; from that iterate `num_branches` continuations with fresh noise
    (other seeds, same step schedule) run to the end.

    Args:
        denoiser: a denoiser (Keras model or callable).
        shape: (num_images, H, W, C) of the trunk run.
        branch_sigmas: noise levels sigma_t at which to branch (each < sigma0).
        num_branches: continuations per split (>= 2). Default 4.
        seed: trunk seed; the branches of image i use seed + 1 + i. Default 0.
        train_images: optional training images: also report the share of
            branch pairs that end at the same nearest training image.
        **sampler_options: passed to `keras_gahb.sampling.sample`.

    Returns:
        dict: "branch_sigmas", "similarity" (mean over images and branch
        pairs of the endpoint correlation, per sigma_t), "similarity_per_image"
        (len(branch_sigmas), num_images), "same_nearest" (per sigma_t, or None),
        "endpoints" (len(branch_sigmas), num_images, num_branches, H, W, C).

    Example:

    >>> b = keras_gahb.analysis.branching(model, (2, 16, 16, 1), [0.5, 0.2, 0.05], h0=0.1, beta=0.5)
    """
    num_branches = int(num_branches)
    if num_branches < 2:
        raise ValueError(f"num_branches must be >= 2; got {num_branches}.")
    branch_sigmas = np.atleast_1d(np.asarray(branch_sigmas, np.float64))
    if branch_sigmas.ndim != 1 or not np.all(branch_sigmas > 0):
        raise ValueError(f"branch_sigmas must be positive numbers; got {branch_sigmas.tolist()}.")
    num, image_shape = int(shape[0]), tuple(int(s) for s in shape[1:])
    options = dict(sampler_options)
    sigma_final = float(options.pop("sigma_final", 0.01))
    max_steps = int(options.pop("max_steps", 1000))
    for key in ("initial", "first_step", "snapshot_every"):
        if key in options:
            raise ValueError(f"branching sets `{key}` itself.")
    sigma0 = float(options.get("sigma0", 1.0))
    if np.any(branch_sigmas >= sigma0) or np.any(branch_sigmas <= sigma_final):
        raise ValueError(f"branch_sigmas must lie in (sigma_final, sigma0) = ({sigma_final}, {sigma0}).")
    endpoints = np.empty((len(branch_sigmas), num, num_branches) + image_shape, np.float32)
    similarity = np.empty((len(branch_sigmas), num))
    same = np.empty((len(branch_sigmas), num)) if train_images is not None else None
    pairs = [(a, b) for a in range(num_branches) for b in range(a + 1, num_branches)]
    for j, sigma_t in enumerate(branch_sigmas):
        trunk = sample(denoiser, (num,) + image_shape, seed=seed, sigma_final=float(sigma_t),
                       max_steps=max_steps, snapshot_every=1, **options)
        last = trunk.snapshots[-1] if trunk.snapshots is not None else trunk.initial
        for i in range(num):
            steps = int(trunk.steps[i])
            start = np.repeat(last[i:i + 1], num_branches, axis=0)
            branches = sample(denoiser, (num_branches,) + image_shape, seed=seed + 1 + i,
                              sigma_final=sigma_final, max_steps=max(1, max_steps - steps + 1),
                              initial=start, first_step=steps, **options)
            ends = branches.images
            endpoints[j, i] = ends
            corr = cosine_similarity(ends[[a for a, _ in pairs]], ends[[b for _, b in pairs]],
                                     mean_removed=True)
            similarity[j, i] = corr.mean()
            if same is not None:
                nearest = nearest_neighbors(ends, train_images, metric="l2")["indices"][:, 0]
                same[j, i] = np.mean([nearest[a] == nearest[b] for a, b in pairs])
    return {"branch_sigmas": branch_sigmas, "similarity": similarity.mean(axis=1),
            "similarity_per_image": similarity,
            "same_nearest": None if same is None else same.mean(axis=1), "endpoints": endpoints}


__all__ = ["branching", "trajectory_agreement"]
