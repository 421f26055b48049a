"""Benchmark: full Jacobians and matrix-free spectra of unet_rf90 (random weights) on the CPU.

Targets (issue 6): full Jacobian of unet_rf90 at one 40x40 image >= 1.5x faster than the
authors' approach (one reverse pass per row, as in their calc_jacobian; ~24 s quoted on this
CPU); at 80x80, top-64 eigenpairs matrix-free >= 10x faster than full Jacobian + eigh with
eigenvalues matching to 1e-3 relative, and the full Jacobian under 8 GiB.

    KERAS_BACKEND=tensorflow python benchmarks/jacobian_speed.py --size 40
    KERAS_BACKEND=tensorflow python benchmarks/jacobian_speed.py --size 80 --top-k 64
    python benchmarks/jacobian_speed.py --size 40 --reference   # the per-row torch baseline

Prints one JSON line per measurement; the CPU may be shared, so load averages are printed too.
"""

import argparse
import json
import os
import resource
import time

import numpy as np


def _peak_rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _emit(**row):
    row["load_average"] = os.getloadavg()[0]
    row["peak_rss_gb"] = round(_peak_rss_gb(), 2)
    print(json.dumps(row), flush=True)


def reference_per_row(size, rows):
    """Authors'-style Jacobian: one torch.autograd.grad per output pixel (timed on `rows` rows)."""
    import sys

    import torch

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from tests.reference.official_models import ReferenceUNet

    torch.manual_seed(0)
    net = ReferenceUNet(num_blocks=3, num_kernels=64).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    y = torch.rand(1, 1, size, size, requires_grad=True)
    out = (y - net(y)).reshape(-1)
    start = time.perf_counter()
    for i in range(rows):
        torch.autograd.grad(out[i], y, retain_graph=True)
    per_row = (time.perf_counter() - start) / rows
    _emit(what="reference_per_row_torch", size=size, rows_timed=rows, per_row_s=per_row,
          full_jacobian_s_estimate=per_row * size * size, torch_threads=torch.get_num_threads())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=40)
    parser.add_argument("--chunk-size", type=int, default=64)
    parser.add_argument("--top-k", type=int, default=0)
    parser.add_argument("--method", default="block")
    parser.add_argument("--skip-full", action="store_true")
    parser.add_argument("--reference", action="store_true")
    parser.add_argument("--reference-rows", type=int, default=64)
    args = parser.parse_args()
    if args.reference:
        reference_per_row(args.size, args.reference_rows)
        return

    import keras

    from keras_gahb import analysis
    from keras_gahb.models import from_preset

    keras.utils.set_random_seed(0)
    model = from_preset("unet_rf90")
    y = np.random.default_rng(0).random((1, args.size, args.size, 1), dtype=np.float32)
    values = None
    if not args.skip_full:
        start = time.perf_counter()
        J = analysis.jacobian(model, y, chunk_size=args.chunk_size, verbose=1)[0]
        seconds = time.perf_counter() - start
        _emit(what="full_jacobian", backend=keras.backend.backend(), size=args.size,
              chunk_size=args.chunk_size, seconds=seconds, jacobian_gb=J.nbytes / 2**30)
        start = time.perf_counter()
        values, _ = analysis.symmetric_eigh(J)
        eigh_seconds = time.perf_counter() - start
        _emit(what="eigh", size=args.size, seconds=eigh_seconds, full_plus_eigh_s=seconds + eigh_seconds,
              top_eigenvalues=values[:8].tolist(), trace=float(np.trace(J)),
              bias_free_error=float(analysis.bias_free_error(J[None], y, model)[0]),
              asymmetry=float(analysis.asymmetry(J)[0]))
        np.save(f"/tmp/jacobian_speed_eigs_{args.size}.npy", values)
    if args.top_k:
        top = analysis.top_eigenpairs(model, y[0], k=args.top_k, method=args.method, tol=1e-4, verbose=1)
        row = dict(what="top_eigenpairs", method=args.method, size=args.size, k=args.top_k,
                   seconds=top["seconds"], products=top["products"], converged=top["converged"],
                   max_residual=float(top["residuals"].max()), top_eigenvalues=top["eigenvalues"][:8].tolist())
        path = f"/tmp/jacobian_speed_eigs_{args.size}.npy"
        if values is None and os.path.exists(path):
            values = np.load(path)
        if values is not None:
            rel = np.abs(top["eigenvalues"] - values[: args.top_k]) / np.abs(values[: args.top_k])
            row["max_relative_error_vs_full"] = float(rel.max())
        _emit(**row)


if __name__ == "__main__":
    main()
