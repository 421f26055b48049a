"""Do a Jacobian's eigenvectors follow *their own* image's contours? A measure a fixed filter fails.

The paper's eigenvectors "oscillate along contours", with frequency rising as
lambda falls. The frequency part does not tell an adaptive operator from a fixed
linear filter: a low-pass filter's eigenvectors are Fourier modes, which also
rise in frequency as lambda falls. Concentration on one image's contours does not
either, since a fixed basis can happen to put energy where one image has its
edges. What a fixed filter cannot do is put *more* energy on the contours of the
image it is evaluated at than on the contours of another image:

- contour band of a clean image x: the `fraction` of its pixels with the
  largest gradient magnitude |grad x| (central differences);
- concentration c(E, band) of unit eigenvectors E = (e_1 .. e_K) on a band:
  (mean over k of the share of ||e_k||^2 inside the band) / (the band's share
  of pixels), 1 for energy spread evenly;
- own-contour excess of image a: d_a = c(E_a, band_a) - mean over b != a of
  c(E_a, band_b), with E_a the top-K eigenvectors of J at y_a = x_a + sigma z_a.

The mean of d_a over images is exactly 0 for any fixed operator (E_a = E_b:
the terms cancel pairwise), positive for one whose eigenvectors follow the
contours of the image at hand.

Reference: Kadkhodaie et al. (2024), https://arxiv.org/abs/2310.02557 (Sec. 3.1, Fig 2).
"""

import numpy as np

#: Share of pixels in the contour band.
CONTOUR_FRACTION = 0.2
#: The adaptation check passes when the mean own-contour excess is above this many standard
#: errors (over images) and above FLOAT_FLOOR.
ADAPTATION_Z = 2.0
#: Round-off of float32 Jacobians moves a fixed filter's excess (exactly 0) by about 1e-5;
#: an excess below this is not told apart from 0.
FLOAT_FLOOR = 1e-3


def contour_band(image, fraction=CONTOUR_FRACTION):
    """Boolean (H, W) mask of the `fraction` of pixels with the largest |grad x| (channels summed).

    Args:
        image: clean image (H, W, C) or (H, W).
        fraction: share of pixels in the band, in (0, 1). Default 0.2.
    """
    x = np.asarray(image, np.float64)
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim != 3:
        raise ValueError(f"image must be (H, W, C) or (H, W); got shape {x.shape}.")
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1); got {fraction}.")
    gy, gx = np.gradient(x, axis=(0, 1))
    magnitude = np.sqrt(np.sum(gy**2 + gx**2, axis=-1))
    count = max(1, int(round(fraction * magnitude.size)))
    order = np.argsort(magnitude.ravel(), kind="stable")[::-1]
    band = np.zeros(magnitude.size, bool)
    band[order[:count]] = True
    return band.reshape(magnitude.shape)


def contour_concentration(eigenvectors, band):
    """(mean over vectors of their energy share in `band`) / (band's pixel share); 1 = even.

    Args:
        eigenvectors: (D, K) columns (any norm), D = H W C.
        band: boolean (H, W) mask (channels share it).
    """
    vectors = np.asarray(eigenvectors, np.float64)
    band = np.asarray(band, bool)
    if vectors.ndim == 1:
        vectors = vectors[:, None]
    channels, rest = divmod(vectors.shape[0], band.size)
    if rest or channels < 1:
        raise ValueError(f"eigenvectors have D = {vectors.shape[0]} rows; the band has "
                         f"{band.size} pixels.")
    inside = np.repeat(band.ravel(), channels)
    energy = vectors**2
    share = energy[inside].sum(axis=0) / np.maximum(energy.sum(axis=0), 1e-30)
    return float(share.mean() / band.mean())


def contour_adaptation(eigenvectors, clean_images, k, fraction=CONTOUR_FRACTION,
                       eigenvalues=None, tie_tolerance=1e-4):
    """Own-contour excess of the top-k eigenvectors at each image over the other images' bands.

    Args:
        eigenvectors: per image a (D, >= k) array of eigenvectors of sym(J) at
            y_a, descending lambda (e.g. `EigenAnalysis.eigenvectors`).
        clean_images: the clean images x_a (n >= 2, H, W, C).
        k: eigenvectors used per image.
        fraction: the contour band's pixel share. Default 0.2.
        eigenvalues: optional per image the eigenvalues (descending). Then the
            cut after k is moved past every eigenvalue tied with lambda_{k-1}
            (within `tie_tolerance` |lambda_0|), so that the measure depends on
            the top subspace, not on an arbitrary basis of a degenerate one.
        tie_tolerance: relative tolerance of a tie. Default 1e-4.

    Returns:
        dict: "excess" (n,) d_a, "mean", "standard_error" (over images),
        "own_concentration" (n,) c(E_a, band_a), "other_concentration" (n,),
        "k", "vectors_used" (per image, k moved past ties), "fraction", "adapts"
        (mean > ADAPTATION_Z standard errors and > FLOAT_FLOOR).

    Example:

    >>> results = [keras_gahb.analysis.eigen_analysis(model, x, sigma=0.1, seed=i)
    ...            for i, x in enumerate(images)]
    >>> keras_gahb.analysis.contour_adaptation([r.eigenvectors for r in results], images, k=16)
    """
    images = np.asarray(clean_images, np.float64)
    if images.ndim != 4 or len(images) < 2:
        raise ValueError(f"clean_images must be (n >= 2, H, W, C); got shape {images.shape}.")
    if len(eigenvectors) != len(images):
        raise ValueError(f"{len(eigenvectors)} eigenvector sets for {len(images)} images.")
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be >= 1; got {k}.")
    bands = [contour_band(x, fraction) for x in images]
    n = len(images)
    cuts = [k if eigenvalues is None else _cut(eigenvalues[a], k, tie_tolerance)
            for a in range(n)]
    concentration = np.array([[contour_concentration(np.asarray(vectors)[:, :cut], band)
                               for band in bands] for vectors, cut in zip(eigenvectors, cuts)])
    own = np.diag(concentration).copy()
    other = (concentration.sum(axis=1) - own) / (n - 1)
    excess = own - other
    mean = float(excess.mean())
    se = float(excess.std(ddof=1) / np.sqrt(n))
    return {"excess": excess, "mean": mean, "standard_error": se, "own_concentration": own,
            "other_concentration": other, "k": k, "vectors_used": cuts,
            "fraction": float(fraction),
            "adapts": bool(mean > FLOAT_FLOOR and mean > ADAPTATION_Z * se)}


def _cut(values, k, tolerance):
    values = np.asarray(values, np.float64).ravel()
    k = min(k, len(values))
    scale = tolerance * max(abs(values[0]), 1e-30)
    while k < len(values) and abs(values[k] - values[k - 1]) <= scale:
        k += 1
    return k


__all__ = ["ADAPTATION_Z", "CONTOUR_FRACTION", "FLOAT_FLOOR", "contour_adaptation", "contour_band",
           "contour_concentration"]
