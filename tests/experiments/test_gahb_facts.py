"""The GAHB part's Jacobian-fact rows: information with the numbers, and the contour check both ways."""


from keras_gahb import analysis
from keras_gahb.data.discs import render_discs
from keras_gahb.experiments.gahb_basis import jacobian_fact_rows
from tests.analysis.test_harmonic import PARAMS, _blur

SCHEMA = {"claim", "value", "passed", "applicable", "reason", "distance"}


def _rows(make):
    discs = render_discs(PARAMS, 16)
    analyses = [analysis.eigen_analysis(make(x, p), x, sigma=0.1, seed=i)
                for i, (x, p) in enumerate(zip(discs, PARAMS))]
    return jacobian_fact_rows(analyses, discs)


def test_a_fixed_low_pass_filter_fails_the_contour_check_and_is_reported_symmetric():
    out = _rows(lambda x, p: _blur)
    info, contour = out["checks"][:-1], out["checks"][-1]
    assert all(SCHEMA <= set(row) for row in out["checks"])
    assert all(not row["applicable"] and row["claim"].startswith("information") for row in info)
    assert contour["applicable"] and not contour["passed"] and contour["distance"]
    assert "symmetric to float precision" in out["sentence"]
    assert out["numbers"]["contour_adaptation"]["mean"] == 0.0 or abs(
        out["numbers"]["contour_adaptation"]["mean"]) < 1e-4
    # The blur is bias-free and symmetric: sym(J) y reconstructs f(y) exactly.
    assert min(out["numbers"]["sym_reconstruction_psnr_per_image"]) > 90


def test_the_disc_tangent_projection_passes_the_contour_check():
    def make(x, params):
        return analysis.TangentProjectionDenoiser(x, analysis.disc_tangent_basis(params, 16))

    out = _rows(make)
    contour = out["checks"][-1]
    assert contour["applicable"] and contour["passed"] and contour["distance"] is None
    assert contour["value"].startswith("K = 5:")
    # P is an orthogonal projection: symmetric, eigenvalues 0 and 1, no negative mass; and a
    # disc is in its own tangent space (x = fg * coverage + bg * (1 - coverage)), so f(y) = P y.
    assert max(out["numbers"]["asymmetry_per_image"]) < 1e-5
    assert all(count == 0 for count, _, _ in out["numbers"]["negative_eigenvalues_per_image"])
    assert min(out["numbers"]["homogeneity_psnr_per_image"]) > 90
