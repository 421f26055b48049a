"""Sampler speed: seconds per iteration per image with a paper denoiser, batch 1 vs batch B.

Target (issue 5): the authors' PyTorch sampler spends about 0.020 s per iteration per 40x40 image
with the unet_rf90 denoiser on the project's CPU (one image at a time); ours, batched at 16, must
be at least 1.5x faster per image-iteration (<= 0.0133 s) on the TensorFlow backend.

The timing does not depend on the weights, so the untrained preset is used with its last
convolution scaled down (a small residual: no image converges or diverges) and
sigma_final tiny, so every run makes exactly --steps iterations. A first short run compiles the
step; the timed run follows.

Run: KERAS_BACKEND=tensorflow python benchmarks/sampling_speed.py --batch 1 16
"""

import argparse
import json
import time

import keras
import numpy as np

import keras_gahb.models
import keras_gahb.sampling
import keras_gahb.utils


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="unet_rf90")
    parser.add_argument("--size", type=int, default=40)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--json", default=None, help="Also write the results to this file.")
    args = parser.parse_args()

    model = keras_gahb.models.from_preset(args.preset)
    last = model.get_layer("decoder_0_conv1")
    last.kernel.assign(last.kernel * 1e-3)
    rows = []
    for batch in args.batch:
        shape = (batch, args.size, args.size, model.image_channels)
        options = dict(seed=0, sigma_final=1e-6, divergence_sigma=float("inf"))
        keras_gahb.sampling.sample(model, shape, max_steps=3, **options)  # compile
        start = time.perf_counter()
        result = keras_gahb.sampling.sample(model, shape, max_steps=args.steps, **options)
        seconds = time.perf_counter() - start
        assert np.all(result.steps == args.steps)
        row = {
            "backend": keras.backend.backend(),
            "preset": args.preset,
            "size": args.size,
            "batch": batch,
            "steps": args.steps,
            "seconds": round(seconds, 3),
            "s_per_iteration_per_image": round(seconds / (args.steps * batch), 5),
        }
        rows.append(row)
        print(json.dumps(row))
    if args.json:
        keras_gahb.utils.atomic_write_json(args.json, rows)


if __name__ == "__main__":
    main()
