"""Convert an authors' PyTorch checkpoint, check it against PyTorch, then denoise, sample, analyze.

Usage:

    python examples/convert_official_checkpoint.py --checkpoint model.pt   # a released file
    python examples/convert_official_checkpoint.py                         # a stand-in file

Without `--checkpoint`, a stand-in with the authors' exact layout is written
from the PyTorch reference network of the tests (random weights, small width
so it runs in about a minute on a CPU). The images, samples and eigenvalues of
a random network are meaningless; the point is the path from file to analysis.
Needs PyTorch to read the file.
"""

import importlib.util
import os
import sys
import tempfile

import click

# The checkout holding keras_gahb (its tests/ has the PyTorch reference network); found from
# the package, not from __file__, so that the notebook made from this script runs too.
_ROOT = os.path.dirname(os.path.dirname(importlib.util.find_spec("keras_gahb").origin))


@click.command()
@click.option("--checkpoint", default=None, help="An authors' .pt file (default: a stand-in).")
@click.option("--out", default=None, help="Folder for the .keras file (default: a temp folder).")
@click.option("--size", default=16, show_default=True, help="Image side for the demo.")
def main(checkpoint, out, size):
    import keras
    import numpy as np
    import torch

    import keras_gahb
    import keras_gahb.analysis
    import keras_gahb.data
    import keras_gahb.sampling
    from keras_gahb.models import load_official_checkpoint
    from keras_gahb.models.official_checkpoint import inspect_official_checkpoint
    from keras_gahb.utils import save_model_atomic

    out = out or tempfile.mkdtemp(prefix="gahb_convert_")
    os.makedirs(out, exist_ok=True)
    net = None
    if checkpoint is None:
        checkpoint = os.path.join(out, "standin_unet.pt")
        net = _standin_network()
        torch.save(net.state_dict(), checkpoint)
        print(f"Wrote a stand-in checkpoint with the authors' layout: {checkpoint} (random "
              "weights: it barely changes its input, so expected are no denoising gain and "
              "sampling that stops at once; a released checkpoint behaves like the paper's)")

    # 1. Inspect and convert (the same as `gahb convert MODEL.pt OUT.keras`).
    info = inspect_official_checkpoint(checkpoint)
    print(f"{info['class']} {info['config']}: {info['num_tensors']} tensors, "
          f"{info['trainable_params']:,} trainable parameters")
    model = load_official_checkpoint(checkpoint)
    save_model_atomic(model, os.path.join(out, "converted.keras"))

    # 2. Same outputs as PyTorch: the authors' network returns the noise, ours y - noise.
    rng = np.random.default_rng(0)
    clean = keras_gahb.data.get_images("discs", 4, size, seed=0, channels=model.image_channels)
    noisy = (clean + 0.1 * rng.standard_normal(clean.shape)).astype("float32")
    denoised = keras.ops.convert_to_numpy(model(noisy, training=False))
    if net is not None:
        with torch.no_grad():
            residual = net(torch.from_numpy(noisy.transpose(0, 3, 1, 2))).numpy()
        error = np.abs((noisy - denoised) - residual.transpose(0, 2, 3, 1)).max()
        print(f"max |(y - keras(y)) - torch(y)| = {error:.2e} (relative "
              f"{error / np.abs(residual).max():.1e})")
    mse_in = np.mean((noisy - clean) ** 2)
    mse_out = np.mean((denoised - clean) ** 2)
    print(f"denoising MSE: input {mse_in:.4f} -> output {mse_out:.4f}")

    # 3. Sample from the implicit prior and analyze the Jacobian at one noisy image.
    result = keras_gahb.sampling.sample(model, (2, size, size, model.image_channels), seed=0,
                                        sigma_final=0.05, max_steps=200)
    print(f"sampling: {np.asarray(result.steps).tolist()} steps, converged "
          f"{np.asarray(result.converged).tolist()}")
    eig = keras_gahb.analysis.eigen_analysis(model, clean[0], sigma=0.1, seed=0)
    print(f"Jacobian at sigma=0.1: trace {eig.trace:.1f} of {eig.eigenvalues.size} dims, "
          f"top eigenvalues {np.round(eig.eigenvalues[:4], 3).tolist()}, "
          f"bias-free error {eig.bias_free_error:.1e}")
    print(f"Converted model: {os.path.join(out, 'converted.keras')}")


def _standin_network():
    sys.path.insert(0, _ROOT)
    from tests.reference.official_models import ReferenceUNet, randomize_batch_norms

    import torch

    torch.manual_seed(0)
    return randomize_batch_norms(ReferenceUNet(num_blocks=2, num_kernels=8), seed=0).eval()


if __name__ == "__main__":
    # In a notebook, return instead of exiting (a kernel reports SystemExit as an error).
    main(standalone_mode="ipykernel" not in sys.modules)
