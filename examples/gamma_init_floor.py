"""Does the authors' batch-norm gamma init remove the small-sigma error floor? (minutes on a CPU)

Trains two `unet_small` denoisers on the same C^alpha images with the same seed, one with every
batch-norm scale starting at 1 ("ones") and one with the authors' start near 0 ("authors"), and
prints their test PSNR against the noisy input's at small noise levels.

    PYTHONPATH=. python examples/gamma_init_floor.py --images 48000
"""

import argparse
import os
import tempfile
import time

import keras

import keras_gahb.models  # noqa: F401  (registers the model classes for loading)

from keras_gahb import analysis, data, training


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32_000, help="training images seen per model")
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--alpha", type=float, default=2.0)
    parser.add_argument("--variant", default="today", help="C^alpha generator variant")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="gamma_init_")
    pool = data.get_images("calpha", 10_256, args.size, seed=0, alpha=args.alpha,
                           **({"variant": args.variant} if args.variant != "today" else {}))
    train, test = pool[:10_000], pool[10_000:]
    sigmas = (0.01, 0.02, 0.05, 0.1, 0.2)
    print("sigma:      " + "  ".join(f"{s:6g}" for s in sigmas))
    for init in ("ones", "authors"):
        start = time.time()
        training.train(os.path.join(out, init), train_images=train, test_images=test,
                       image_size=args.size, preset="unet_small",
                       model_overrides={"gamma_initializer": init}, epochs=4, batch_size=64,
                       images_per_epoch=args.images // 4, schedule="cosine", seed=0,
                       eval_sigmas=(0.1,), eval_every=4, grid_images=0, tensorboard=False,
                       verbose=0)
        model = keras.saving.load_model(os.path.join(out, init, "model.keras"))
        curve = analysis.psnr_curve(model, test, sigmas, seed=0)
        print("input PSNR: " + "  ".join(f"{v:6.2f}" for v in curve["input_psnr"]))
        print(f"{init:>7} out: " + "  ".join(f"{v:6.2f}" for v in curve["output_psnr"])
              + f"   ({time.time() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
