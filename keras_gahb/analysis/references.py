"""Closed-form reference denoisers built from a training set, and a network's distance to each.

Every reference is a keras.ops callable on (B, H, W, C) batches, so it can be
passed wherever a denoiser is expected (`psnr_curve`, `jacobian`,
`top_eigenpairs`, the sampler). Each is the posterior mean E[x | y] of
y = x + sigma z under a different prior fitted to the training images:

- `EmpiricalOptimalDenoiser` (in empirical_optimal_denoiser.py): the empirical
  distribution itself (what a perfectly memorizing model computes);
- `WienerDenoiser`: a Gaussian with the training set's mean and covariance
  (linear, f(y) = m + C (C + sigma^2 I)^-1 (y - m));
- `GaussianMixtureDenoiser`: a mixture of K Gaussians (k-means clusters);
  K = 1 is the Wiener filter;
- `SmoothedEmpiricalDenoiser`: the empirical distribution convolved with a
  Gaussian of width `bandwidth` (a kernel density estimate), whose score is the
  smoothed closed-form score;
- `LocalPatchDenoiser`: the equivariant local score (ELS) machine of Kamb and
  Ganguli: every output pixel is the posterior mean of its centre under the
  empirical distribution of all P x P training patches (any position), with
  the patch size chosen per sigma;
- `PCALocalDenoiser`: the locality of Lukoianov et al.: the posterior of pixel
  i only looks at the pixels where the Wiener filter's row i is large (a mask
  derived from the data covariance).

`compare_with_references` measures, per sigma, the MSE of a network and of each
reference, and r^2 between the network's output and each reference's output.

References:
    Kadkhodaie et al. (2024), https://arxiv.org/abs/2310.02557 ;
    Kamb, Ganguli (2024), "An analytic theory of creativity in convolutional
    diffusion models", https://arxiv.org/abs/2412.20292 ;
    Niedoba et al. (2024), "Towards a mechanistic explanation of diffusion model
    generalization", https://arxiv.org/abs/2411.19339 ;
    Lukoianov et al. (2025), "Locality in image diffusion models emerges from
    data statistics", https://arxiv.org/abs/2509.09672 ;
    Scarvelis, Borde, Solomon (2023), "Closed-form diffusion models",
    https://arxiv.org/abs/2310.12395 .
"""

import keras
import numpy as np

from keras_gahb.analysis.empirical_optimal_denoiser import EmpiricalOptimalDenoiser, scaled_softmax
from keras_gahb.analysis.measures import check_images, check_sigmas, denoise
from keras_gahb.utils import numpy_rng

_MAX_ELEMENTS = 1 << 24  # bound on intermediate (rows x training items) matrices


class WienerDenoiser:
    """The optimal denoiser of the Gaussian N(m, C) fitted to the training images.

        f(y) = m + U diag(lambda / (lambda + sigma^2)) U^T (y - m),   C = U diag(lambda) U^T,

    with m and C the training set's mean and (biased, 1/N) covariance. Its
    Jacobian is the constant matrix U diag(lambda / (lambda + sigma^2)) U^T, so
    its effective dimension is sum_k lambda_k / (lambda_k + sigma^2).

    Args:
        train_images: (N, H, W, C) training images (D = H W C <= 4096).
        sigma: noise level (> 0).
        mean, covariance: optional known moments ((D,) or scalar, (D, D)) used
            instead of the training set's (e.g. `GaussianImages.covariance()`).

    Example:

    >>> train = keras_gahb.data.GaussianImages(8).sample(200, seed=0)
    >>> f = keras_gahb.analysis.WienerDenoiser(train, sigma=0.1)
    >>> f(train[:2]).shape
    (2, 8, 8, 1)
    """

    def __init__(self, train_images, sigma, mean=None, covariance=None):
        train = check_images(train_images, "train_images")
        self.image_shape = train.shape[1:]
        self.sigma = _check_sigma(sigma)
        dim = int(np.prod(self.image_shape))
        if dim > 4096:
            raise ValueError(f"WienerDenoiser needs D = H W C <= 4096 (a D x D matrix); got {dim}.")
        flat = train.reshape(len(train), -1).astype(np.float64)
        m = flat.mean(axis=0) if mean is None else np.broadcast_to(np.asarray(mean, np.float64), (dim,))
        if covariance is None:
            centered = flat - flat.mean(axis=0)
            covariance = centered.T @ centered / len(flat)
        covariance = np.asarray(covariance, np.float64)
        if covariance.shape != (dim, dim):
            raise ValueError(f"covariance must be ({dim}, {dim}); got {covariance.shape}.")
        values, vectors = np.linalg.eigh(0.5 * (covariance + covariance.T))
        self.eigenvalues = np.maximum(values[::-1], 0.0)
        self.eigenvectors = vectors[:, ::-1]
        self.mean = m
        gain = self.eigenvalues / (self.eigenvalues + self.sigma**2)
        self.filter = (self.eigenvectors * gain) @ self.eigenvectors.T
        self._filter = keras.ops.convert_to_tensor(self.filter.astype(np.float32))
        self._mean = keras.ops.convert_to_tensor(m.astype(np.float32))

    def jacobian_eigenvalues(self):
        """The closed-form Jacobian spectrum lambda_k / (lambda_k + sigma^2), descending."""
        return self.eigenvalues / (self.eigenvalues + self.sigma**2)

    def __call__(self, y):
        ops = keras.ops
        flat = _flatten(y, self.image_shape) - self._mean[None]
        return ops.reshape(self._mean[None] + ops.matmul(flat, self._filter), ops.shape(y))


class GaussianMixtureDenoiser:
    """The optimal denoiser of a mixture of K Gaussians fitted to the training images.

    The components are the k-means clusters of the training set (weights pi_k,
    means mu_k, covariances C_k + ridge I). With y = x + sigma z,

        f(y) = sum_k r_k(y) [mu_k + C_k (C_k + sigma^2 I)^-1 (y - mu_k)],
        r_k(y) = softmax_k(log pi_k + log N(y; mu_k, C_k + sigma^2 I)).

    K = 1 is `WienerDenoiser`; K = N with ridge -> 0 tends to the empirical optimum.

    Args:
        train_images: (N, H, W, C), D = H W C <= 4096.
        sigma: noise level.
        num_components: K. Default 8.
        ridge: added to each covariance's eigenvalues, relative to the mean
            pixel variance of the training set. Default 1e-3.
        iterations: k-means (Lloyd) iterations. Default 20.
        seed: int or numpy Generator (k-means++ initialisation). Default 0.
    """

    def __init__(self, train_images, sigma, num_components=8, ridge=1e-3, iterations=20, seed=0):
        train = check_images(train_images, "train_images")
        self.image_shape = train.shape[1:]
        self.sigma = _check_sigma(sigma)
        flat = train.reshape(len(train), -1).astype(np.float64)
        dim = flat.shape[1]
        if dim > 4096:
            raise ValueError(f"GaussianMixtureDenoiser needs D = H W C <= 4096; got {dim}.")
        k = int(num_components)
        if not 1 <= k <= len(flat):
            raise ValueError(f"num_components must be between 1 and N = {len(flat)}; got {num_components}.")
        labels = _kmeans(flat, k, int(iterations), numpy_rng(seed))
        floor = float(ridge) * max(flat.var(axis=0).mean(), 1e-12)
        means, bases, gains, variances, logdets, log_weights = [], [], [], [], [], []
        for c in range(k):
            members = flat[labels == c]
            mu = members.mean(axis=0)
            centered = members - mu
            values, vectors = np.linalg.eigh(centered.T @ centered / len(members))
            values = np.maximum(values, 0.0) + floor
            means.append(mu)
            bases.append(vectors)
            gains.append(values / (values + self.sigma**2))
            variances.append(values + self.sigma**2)
            logdets.append(np.sum(np.log(values + self.sigma**2)))
            log_weights.append(np.log(len(members) / len(flat)))
        self.num_components = k
        self.weights = np.exp(np.array(log_weights))
        self.labels = labels
        to = keras.ops.convert_to_tensor
        self._means = to(np.stack(means).astype(np.float32))           # (K, D)
        self._bases = to(np.stack(bases).astype(np.float32))           # (K, D, D)
        self._gains = to(np.stack(gains).astype(np.float32))           # (K, D)
        self._precisions = to((1.0 / np.stack(variances)).astype(np.float32))    # (K, D)
        self._constants = to((np.array(log_weights) - 0.5 * np.array(logdets)).astype(np.float32))

    def __call__(self, y):
        ops = keras.ops
        flat = _flatten(y, self.image_shape)
        centered = flat[:, None, :] - self._means[None]                       # (B, K, D)
        coords = ops.einsum("bkd,kde->bke", centered, self._bases)            # U_k^T (y - mu_k)
        log_like = self._constants[None] - 0.5 * ops.sum(coords**2 * self._precisions[None], axis=-1)
        resp = scaled_softmax(log_like, 1.0, axis=1)                          # (B, K) responsibilities
        shrunk = ops.einsum("bke,kde->bkd", coords * self._gains[None], self._bases)
        out = ops.sum(resp[:, :, None] * (self._means[None] + shrunk), axis=1)
        return ops.reshape(out, ops.shape(y))


class SmoothedEmpiricalDenoiser:
    """Posterior mean under the training set smoothed by a Gaussian of width `bandwidth`.

    The prior (1/N) sum_i N(x_i, s^2 I) (a kernel density estimate; its score
    at noise level sigma is the closed-form score smoothed by s) has the
    closed-form denoiser

        f(y) = (sigma^2 / (s^2 + sigma^2)) sum_i w_i x_i + (s^2 / (s^2 + sigma^2)) y,
        w = softmax_i(-||y - x_i||^2 / (2 (sigma^2 + s^2))).

    s = 0 is the empirical optimum; a larger s interpolates towards the input
    and lets samples leave the training set.

    Args:
        train_images: (N, H, W, C).
        sigma: noise level.
        bandwidth: s >= 0 (in pixel units of the image range). Default 0.05.
    """

    def __init__(self, train_images, sigma, bandwidth=0.05):
        self.sigma = _check_sigma(sigma)
        self.bandwidth = float(bandwidth)
        if not (np.isfinite(self.bandwidth) and self.bandwidth >= 0):
            raise ValueError(f"bandwidth must be >= 0; got {bandwidth}.")
        total = self.sigma**2 + self.bandwidth**2
        self._empirical = EmpiricalOptimalDenoiser(train_images, sigma=float(np.sqrt(total)))
        self.image_shape = self._empirical.image_shape
        self._keep = float(self.bandwidth**2 / total)

    def __call__(self, y):
        y = keras.ops.cast(y, "float32")
        return (1.0 - self._keep) * self._empirical(y) + self._keep * y


class LocalPatchDenoiser:
    """Equivariant local score (ELS) machine: patch-wise posterior mean over training patches.

    For output pixel p, the P x P patch of y around p is compared with every
    P x P patch of every training image (at any position when `equivariant`,
    else only at p), and the output is the posterior-weighted centre pixel:

        f(y)_p = sum_q w_q(p) x_q[centre],  w(p) = softmax_q(-||y_P(p) - x_q||^2 / (2 sigma^2)).

    This is the optimal denoiser under the constraints of locality (a receptive
    field of P x P pixels) and translation equivariance that a convolutional
    network obeys. P = full image without equivariance is the empirical optimum.

    Args:
        train_images: (N, H, W, C).
        sigma: noise level.
        patch_size: odd int, or a callable sigma -> odd int, or None for
            `default_patch_size`. Default None.
        equivariant: compare with patches at every position. Default True.
        padding: "constant" (zeros) or "reflect" at the image border. Default "constant".
        max_patches: at most this many training patches (a random subset, seed)
            when `equivariant`. Default 50000.
        seed: int or numpy Generator of that subset. Default 0.

    Example:

    >>> f = keras_gahb.analysis.LocalPatchDenoiser(train, sigma=0.2, patch_size=5)
    """

    def __init__(self, train_images, sigma, patch_size=None, equivariant=True, padding="constant",
                 max_patches=50000, seed=0):
        train = check_images(train_images, "train_images")
        self.image_shape = train.shape[1:]
        self.sigma = _check_sigma(sigma)
        height, width, channels = self.image_shape
        if patch_size is None:
            patch_size = default_patch_size(self.sigma, max(height, width))
        elif callable(patch_size):
            patch_size = patch_size(self.sigma)
        self.patch_size = int(patch_size)
        if self.patch_size < 1 or self.patch_size % 2 == 0:
            raise ValueError(f"patch_size must be a positive odd int; got {patch_size}.")
        if padding not in ("constant", "reflect"):
            raise ValueError(f"padding must be 'constant' or 'reflect'; got {padding!r}.")
        self.padding, self.equivariant = padding, bool(equivariant)
        total = len(train) * height * width
        if self.equivariant and total > int(max_patches):
            # Draw the subset first and cut only those patches: all N H W patches of a large
            # set at once would take N H W P^2 C floats (2.3 GB for 10,000 16x16 images, P = 15).
            keep = numpy_rng(seed).choice(total, int(max_patches), replace=False)
            patches = _patches_at(train, keep, self.patch_size, padding)
            centres = train.reshape(-1, channels)[keep]
        elif self.equivariant:
            patches = _patches_numpy(train, self.patch_size, padding).reshape(total, -1)
            centres = train.reshape(-1, channels)
        else:
            patches = _patches_numpy(train, self.patch_size, padding)      # (N, H, W, P*P*C)
            centres = train                                                # (N, H, W, C)
            patches = np.moveaxis(patches, 0, 2).reshape(height * width, len(train), -1)
            centres = np.moveaxis(centres, 0, 2).reshape(height * width, len(train), channels)
        to = keras.ops.convert_to_tensor
        self.num_patches = int(patches.shape[-2])
        self._patches = to(patches.astype(np.float32))
        self._half_norms = to((0.5 * np.sum(patches.astype(np.float64) ** 2, axis=-1)).astype(np.float32))
        self._centres = to(centres.astype(np.float32))

    def __call__(self, y):
        ops = keras.ops
        shape = ops.shape(y)
        if tuple(shape[1:]) != tuple(self.image_shape):
            raise ValueError(f"Expected images (batch, {', '.join(map(str, self.image_shape))}); got {tuple(shape)}.")
        height, width, channels = self.image_shape
        queries = _patches_ops(ops.cast(y, "float32"), self.patch_size, self.padding)  # (B, H, W, F)
        inv = 1.0 / self.sigma**2
        if self.equivariant:
            flat = ops.reshape(queries, (-1, queries.shape[-1]))
            rows = max(1, _MAX_ELEMENTS // self.num_patches)
            outs = []
            for start in range(0, int(flat.shape[0]), rows):
                q = flat[start:start + rows]
                scores = ops.matmul(q, ops.transpose(self._patches)) - self._half_norms[None]
                outs.append(ops.matmul(scaled_softmax(scores, inv, axis=-1), self._centres))
            out = ops.concatenate(outs, axis=0)
        else:
            q = ops.transpose(ops.reshape(queries, (shape[0], height * width, -1)), (1, 0, 2))  # (HW, B, F)
            scores = ops.einsum("pbf,pnf->pbn", q, self._patches) - self._half_norms[:, None, :]
            out = ops.einsum("pbn,pnc->pbc", scaled_softmax(scores, inv, axis=-1), self._centres)
            out = ops.transpose(out, (1, 0, 2))
        return ops.reshape(out, shape)


class PCALocalDenoiser:
    """Empirical posterior per pixel restricted to a data-derived neighbourhood (PCA locality).

    With W = C (C + sigma^2 I)^-1 the Wiener filter of the training covariance,
    pixel i only "sees" the mask M_i = {j : |W_ij| >= threshold max_j |W_ij|},
    and

        f(y)_i = sum_n softmax_n(-||M_i (y - x_n)||^2 / (2 sigma^2)) x_{n,i}.

    At high noise the Wiener filter is broad and so are the masks; at low noise
    they shrink to a few pixels: locality that comes from the data statistics,
    not from the architecture. When every mask covers the whole image this is
    the empirical optimum, and it is computed as one (`EmpiricalOptimalDenoiser`):
    XLA on CPU (jaxlib 0.10) folds an all-ones mask into a broadcast scalar,
    and its YNNPACK fusion of that matmul with the softmax's reductions
    returns uninitialized memory under jit.

    Args:
        train_images: (N, H, W, C), D <= 4096.
        sigma: noise level.
        threshold: relative magnitude defining the mask. Default 0.1.
    """

    def __init__(self, train_images, sigma, threshold=0.1):
        train = check_images(train_images, "train_images")
        self.image_shape = train.shape[1:]
        self.sigma = _check_sigma(sigma)
        if not 0 < threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1]; got {threshold}.")
        wiener = WienerDenoiser(train, sigma)
        magnitude = np.abs(wiener.filter)
        masks = (magnitude >= threshold * magnitude.max(axis=1, keepdims=True)).astype(np.float32)
        np.fill_diagonal(masks, 1.0)
        flat = train.reshape(len(train), -1).astype(np.float32)
        to = keras.ops.convert_to_tensor
        self.masks = masks
        self._masks = to(masks)                                       # (D, D) rows = pixels i
        self._train = to(flat)                                        # (N, D)
        self._half_terms = to((0.5 * (flat.astype(np.float64) ** 2) @ masks.T).astype(np.float32))  # (N, D)
        self._global = EmpiricalOptimalDenoiser(train, sigma=self.sigma) if masks.all() else None

    def __call__(self, y):
        ops = keras.ops
        if self._global is not None:  # every M_i is the whole image
            return self._global(y)
        flat = _flatten(y, self.image_shape)                          # (B, D)
        dim, num = int(self._train.shape[1]), int(self._train.shape[0])
        rows = max(1, _MAX_ELEMENTS // (dim * num))
        outs = []
        for start in range(0, int(flat.shape[0]), rows):
            yb = flat[start:start + rows]
            # -||M_i (y - x_n)||^2 / 2 up to a term constant in n: <M_i y, x_n> - ||M_i x_n||^2 / 2.
            cross = ops.matmul(yb[:, None, :] * self._train[None], ops.transpose(self._masks))  # (b, N, D)
            weights = scaled_softmax(cross - self._half_terms[None], 1.0 / self.sigma**2, axis=1)
            outs.append(ops.sum(weights * self._train[None], axis=1))
        return ops.reshape(ops.concatenate(outs, axis=0), ops.shape(y))


REFERENCES = {
    "empirical": lambda train, sigma, **kw: EmpiricalOptimalDenoiser(train, sigma=sigma, **kw),
    "wiener": WienerDenoiser,
    "gmm": GaussianMixtureDenoiser,
    "smoothed": SmoothedEmpiricalDenoiser,
    "els": LocalPatchDenoiser,
    "pca_local": PCALocalDenoiser,
}


def reference_denoiser(name, train_images, sigma, **options):
    """The reference denoiser `name` (a key of REFERENCES) of `train_images` at noise level sigma.

    Example:

    >>> f = keras_gahb.analysis.reference_denoiser("wiener", train, 0.1)
    """
    if name not in REFERENCES:
        raise ValueError(f"Unknown reference '{name}'. Choose from {', '.join(REFERENCES)}.")
    return REFERENCES[name](train_images, sigma, **options)


def default_patch_size(sigma, image_size):
    """An ELS patch size growing with the noise level: odd, >= 3, <= image side.

    P(sigma) = 2 round(image_size sigma) + 3, clipped: about 3 pixels at sigma
    -> 0 and the whole image at sigma ~ 1/2 (Kamb and Ganguli calibrate it per
    network; see `calibrate_patch_size`).
    """
    size = int(image_size)
    largest = size if size % 2 else size - 1
    return int(min(largest, max(3, 2 * int(round(size * float(sigma))) + 3)))


def calibrate_patch_size(denoiser, train_images, images, sigma, candidates=(3, 5, 7, 9, 11),
                         seed=0, **options):
    """The ELS patch size whose output is closest (highest r^2) to `denoiser` at this sigma.

    Returns:
        dict: "patch_size" (the best), "r2" {P: r^2}.
    """
    images = check_images(images)
    noisy = images + np.float32(sigma) * numpy_rng(seed).standard_normal(images.shape).astype(np.float32)
    target = denoise(denoiser, noisy)
    scores = {}
    for p in candidates:
        if p > max(images.shape[1:3]) + (max(images.shape[1:3]) + 1) % 2:
            continue
        ref = LocalPatchDenoiser(train_images, sigma, patch_size=int(p), **options)
        scores[int(p)] = r_squared(target, denoise(ref, noisy))
    if not scores:
        raise ValueError(f"No candidate patch size fits images of shape {images.shape[1:]}.")
    return {"patch_size": max(scores, key=scores.get), "r2": scores}


def r_squared(prediction, reference):
    """Coefficient of determination of `reference` explained by `prediction`.

        r^2 = 1 - sum (prediction - reference)^2 / sum (reference - mean(reference))^2,

    sums over images and pixels; 1 = identical outputs.
    """
    a = np.asarray(prediction, np.float64).ravel()
    b = np.asarray(reference, np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"Shapes differ: {np.shape(prediction)} vs {np.shape(reference)}.")
    total = np.sum((b - b.mean()) ** 2)
    return float(1.0 - np.sum((a - b) ** 2) / max(total, 1e-30))


def compare_with_references(denoiser, train_images, images, sigmas, references=("empirical", "wiener"),
                            options=None, seed=0, batch_size=64):
    """MSE of a denoiser and of each reference per sigma, and r^2 between their outputs.

    The same noise z is used at every sigma (y = x + sigma z), as in `mse_curve`.

    Args:
        denoiser: a Keras model or callable (the network).
        train_images: the network's training images (N, H, W, C).
        images: clean evaluation images (n, H, W, C) (train or test).
        sigmas: noise levels.
        references: names of REFERENCES. Default ("empirical", "wiener").
        options: optional {name: {argument: value}} for each reference
            (e.g. {"els": {"patch_size": 5}, "gmm": {"num_components": 4}}).
        seed: int or numpy Generator of z. Default 0.
        batch_size: images per call. Default 64.

    Returns:
        dict: "sigmas", "network_mse" (per sigma), "references" {name: {"mse": [..],
        "r2": [..], "closeness": [..]}} where r2 is r^2 of the reference's output by
        the network's output; "closest" per sigma names the reference with the highest r^2.

    Example:

    >>> out = keras_gahb.analysis.compare_with_references(model, train, test[:16], [0.05, 0.2],
    ...                                                  references=("empirical", "wiener", "els"))
    """
    images = check_images(images)
    train = check_images(train_images, "train_images")
    sigmas = check_sigmas(sigmas)
    options = dict(options or {})
    for name in list(references) + list(options):
        if name not in REFERENCES:
            raise ValueError(f"Unknown reference '{name}'. Choose from {', '.join(REFERENCES)}.")
    noise = numpy_rng(seed).standard_normal(images.shape).astype(np.float32)
    result = {"sigmas": sigmas, "network_mse": np.empty(len(sigmas)),
              "references": {n: {"mse": np.empty(len(sigmas)), "r2": np.empty(len(sigmas))}
                             for n in references}}
    closest = []
    for j, sigma in enumerate(sigmas):
        noisy = images + np.float32(sigma) * noise
        net = denoise(denoiser, noisy, batch_size)
        result["network_mse"][j] = np.mean((net - images) ** 2)
        for name in references:
            ref = reference_denoiser(name, train, float(sigma), **options.get(name, {}))
            out = denoise(ref, noisy, batch_size)
            entry = result["references"][name]
            entry["mse"][j] = np.mean((out - images) ** 2)
            entry["r2"][j] = r_squared(net, out)
        closest.append(max(references, key=lambda n: result["references"][n]["r2"][j]))
    result["closest"] = closest
    return result


def _check_sigma(sigma):
    if sigma is None or not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive number; got {sigma}.")
    return float(sigma)


def _flatten(y, image_shape):
    ops = keras.ops
    shape = ops.shape(y)
    if tuple(shape[1:]) != tuple(image_shape):
        raise ValueError(f"Expected images (batch, {', '.join(map(str, image_shape))}); got {tuple(shape)}.")
    return ops.reshape(ops.cast(y, "float32"), (shape[0], -1))


def _kmeans(flat, k, iterations, rng):
    centers = [flat[rng.integers(len(flat))]]
    for _ in range(1, k):  # k-means++ seeding
        d2 = np.min(((flat[:, None] - np.array(centers)[None]) ** 2).sum(-1), axis=1)
        probabilities = d2 / d2.sum() if d2.sum() > 0 else np.full(len(flat), 1 / len(flat))
        centers.append(flat[rng.choice(len(flat), p=probabilities)])
    centers = np.array(centers)
    labels = np.zeros(len(flat), int)
    for _ in range(iterations):
        d2 = (flat**2).sum(1)[:, None] - 2 * flat @ centers.T + (centers**2).sum(1)[None]
        labels = np.argmin(d2, axis=1)
        for c in range(k):
            if np.any(labels == c):
                centers[c] = flat[labels == c].mean(axis=0)
    for c in range(k):  # no empty component: give it the point farthest from its centre
        if not np.any(labels == c):
            d2 = ((flat - centers[labels]) ** 2).sum(1)
            labels[np.argmax(d2)] = c
    return labels


def _offsets(patch_size):
    r = patch_size // 2
    return [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1)]


def _patches_numpy(images, patch_size, padding):
    r = patch_size // 2
    height, width = images.shape[1:3]
    padded = np.pad(images, ((0, 0), (r, r), (r, r), (0, 0)), mode=padding)
    return np.concatenate([padded[:, r + dy:r + dy + height, r + dx:r + dx + width]
                           for dy, dx in _offsets(patch_size)], axis=-1)


def _patches_at(images, flat_indices, patch_size, padding):
    """The patches of `_patches_numpy` at flat (image, row, column) indices only: (k, P*P*C)."""
    r = patch_size // 2
    height, width = images.shape[1:3]
    padded = np.pad(images, ((0, 0), (r, r), (r, r), (0, 0)), mode=padding)
    n, rest = np.divmod(flat_indices, height * width)
    row, col = np.divmod(rest, width)
    return np.concatenate([padded[n, r + dy + row, r + dx + col] for dy, dx in _offsets(patch_size)], axis=-1)


def _patches_ops(images, patch_size, padding):
    ops = keras.ops
    r = patch_size // 2
    height, width = images.shape[1:3]
    padded = ops.pad(images, ((0, 0), (r, r), (r, r), (0, 0)), mode=padding)
    return ops.concatenate([padded[:, r + dy:r + dy + height, r + dx:r + dx + width]
                            for dy, dx in _offsets(patch_size)], axis=-1)


__all__ = [
    "GaussianMixtureDenoiser",
    "LocalPatchDenoiser",
    "PCALocalDenoiser",
    "REFERENCES",
    "SmoothedEmpiricalDenoiser",
    "WienerDenoiser",
    "calibrate_patch_size",
    "compare_with_references",
    "default_patch_size",
    "r_squared",
    "reference_denoiser",
]
