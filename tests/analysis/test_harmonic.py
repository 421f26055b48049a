"""The own-contour excess: 0 for a fixed linear filter, positive for an image-adapted operator."""

import numpy as np
import pytest

from keras_gahb import analysis
from keras_gahb.data.discs import render_discs

#: Four discs at different places (center x, y, radius, foreground, background), 16x16.
PARAMS = np.array([[4.5, 4.5, 3.0, 0.8, 0.2], [11.5, 4.5, 3.0, 0.7, 0.3],
                   [4.5, 11.5, 3.0, 0.9, 0.1], [11.5, 11.5, 3.0, 0.6, 0.2]])


def _blur(y):
    """[1, 2, 1] / 4 along rows and columns with edge padding: a fixed low-pass filter."""
    from keras import ops

    for axis in (1, 2):
        size = y.shape[axis]
        first, last = ops.take(y, [0], axis=axis), ops.take(y, [size - 1], axis=axis)
        padded = ops.concatenate([first, y, last], axis=axis)
        y = (0.25 * ops.take(padded, list(range(size)), axis=axis) + 0.5 * y
             + 0.25 * ops.take(padded, list(range(2, size + 2)), axis=axis))
    return y


@pytest.fixture(scope="module")
def discs():
    return render_discs(PARAMS, 16)


def test_contour_band_and_concentration_closed_forms(discs):
    band = analysis.contour_band(discs[0], fraction=0.2)
    assert band.sum() == round(0.2 * 256)
    # The band lies on the disc's edge (radius 3 around (4.5, 4.5) in pixel-centre coordinates).
    rows, cols = np.nonzero(band)
    radius = np.hypot(cols + 0.5 - 4.5, rows + 0.5 - 4.5)
    assert np.all(np.abs(radius - 3.0) < 2.5)
    # Evenly spread energy gives 1; energy only inside the band gives 1 / fraction.
    assert analysis.contour_concentration(np.ones((256, 1)), band) == pytest.approx(1.0)
    assert analysis.contour_concentration(band.reshape(-1, 1).astype(float), band) == \
        pytest.approx(256 / band.sum())


def test_a_fixed_low_pass_filter_has_zero_excess_and_fails(discs):
    results = [analysis.eigen_analysis(_blur, x, sigma=0.1, seed=i) for i, x in enumerate(discs)]
    measured = analysis.contour_adaptation([r.eigenvectors for r in results], discs, k=8,
                                           eigenvalues=[r.eigenvalues for r in results])
    assert abs(measured["mean"]) < 1e-4
    assert not measured["adapts"]
    # Its eigenvectors rise in frequency as lambda falls (the part of "harmonic" a filter passes).
    frequency = [np.sum(np.diff(v.reshape(16, 16), axis=0) ** 2) for v in results[0].eigenvectors.T[:40]]
    assert np.corrcoef(np.arange(40), frequency)[0, 1] > 0.5


def test_the_tangent_projection_of_the_disc_manifold_follows_each_disc_and_passes(discs):
    """f(y) = x + P (y - x), P the projection on the true manifold's tangent space at x: the
    ideal small-noise denoiser, whose eigenvectors (position and radius derivatives) sit on the
    disc's own edge."""
    results = []
    for i, (x, params) in enumerate(zip(discs, PARAMS)):
        f = analysis.TangentProjectionDenoiser(x, analysis.disc_tangent_basis(params, 16))
        results.append(analysis.eigen_analysis(f, x, sigma=0.1, seed=i))
    measured = analysis.contour_adaptation([r.eigenvectors for r in results], discs, k=5,
                                           eigenvalues=[r.eigenvalues for r in results])
    assert measured["adapts"], measured
    assert np.all(measured["excess"] > 0.5) and np.all(measured["own_concentration"] > 2)


def test_bad_inputs(discs):
    with pytest.raises(ValueError, match="fraction"):
        analysis.contour_band(discs[0], fraction=1.5)
    with pytest.raises(ValueError, match="n >= 2"):
        analysis.contour_adaptation([np.eye(256)], discs[:1], k=4)
    with pytest.raises(ValueError, match="pixels"):
        analysis.contour_concentration(np.ones((10, 1)), np.ones((4, 4), bool))
