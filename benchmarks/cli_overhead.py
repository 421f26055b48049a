"""Training throughput of `gahb train` against a raw `model.fit` loop on the same data.

Both train the same preset on the same `keras_gahb.data.noisy_pairs` stream with the same
optimizer (Adam, cosine schedule, EMA). Throughput = training images per second of the
training part of each epoch (epoch begin -> last step done), averaged over epochs 2..E (epoch 1
holds compilation). `gahb train` runs as a subprocess (the real CLI); its epoch times are
read from history.csv (`train_seconds`). The PSNR evaluation and checkpointing that `gahb train`
adds after each epoch are reported separately as wall-clock overhead.

Run: python benchmarks/cli_overhead.py [--backend tensorflow] [--epochs 4] [--repeats 2]
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time


def raw_fit(args):
    """Images/s of model.fit on the pipeline `gahb train` builds (run in this process)."""
    import keras

    import keras_gahb
    from keras_gahb.training import compile_denoiser, steps_per_epoch

    config = keras_gahb.training.TrainConfig(
        dataset=args.dataset, n=args.n, image_size=args.image_size, preset=args.preset,
        epochs=args.epochs, batch_size=args.batch_size, images_per_epoch=args.images_per_epoch)
    pool = keras_gahb.data.get_images(config.dataset, config.pool_size, config.image_size,
                                      seed=config.seed)
    split = keras_gahb.data.disjoint_subsets(len(pool), config.n, config.test_size, seed=0)
    train_x = pool[split.s1]
    pairs = keras_gahb.data.noisy_pairs(train_x, config.batch_size,
                                        images_per_epoch=config.images_per_epoch, seed=0)
    steps = steps_per_epoch(len(train_x), config.batch_size, config.images_per_epoch)
    keras.utils.set_random_seed(0)
    model = keras_gahb.models.from_preset(config.preset)
    compile_denoiser(model, steps_per_epoch=steps, epochs=config.epochs, ema_momentum="auto")

    class Timer(keras.callbacks.Callback):
        seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            float(keras.ops.convert_to_numpy(logs["loss"]))
            self.seconds.append(time.perf_counter() - self.start)

    start = time.perf_counter()
    model.fit(pairs, epochs=config.epochs, callbacks=[Timer()], verbose=0, shuffle=False)
    wall = time.perf_counter() - start
    return _rate(Timer.seconds, args.images_per_epoch), wall


def cli_fit(args):
    """Images/s of `gahb train` (subprocess), from its history.csv."""
    with tempfile.TemporaryDirectory() as out:
        command = [
            sys.executable, "-m", "cli.main", "--backend", args.backend, "train",
            "--dataset", args.dataset, "--n", str(args.n), "--image-size", str(args.image_size),
            "--preset", args.preset, "--epochs", str(args.epochs),
            "--batch-size", str(args.batch_size), "--images-per-epoch", str(args.images_per_epoch),
            "--quiet", "--out", out,
        ]
        start = time.perf_counter()
        process = subprocess.run(command, capture_output=True, text=True,
                                 cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        if process.returncode:
            sys.exit(f"gahb train failed:\n{process.stderr[-2000:]}")
        wall = time.perf_counter() - start
        with open(os.path.join(out, "history.csv")) as f:
            rows = list(csv.DictReader(f))
    seconds = [float(r["train_seconds"]) for r in rows]
    overhead = sum(float(r["epoch_seconds"]) - float(r["train_seconds"]) for r in rows[1:])
    return _rate(seconds, args.images_per_epoch), wall, overhead / max(len(rows) - 1, 1)


def _rate(seconds, images_per_epoch):
    later = seconds[1:] or seconds
    return images_per_epoch * len(later) / sum(later)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "tensorflow"))
    parser.add_argument("--dataset", default="faces")
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--preset", default="unet_small")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--images-per-epoch", type=int, default=800)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    os.environ["KERAS_BACKEND"] = args.backend
    results = []
    for repeat in range(args.repeats):  # alternate, so load changes hit both alike
        raw_rate, raw_wall = raw_fit(args)
        cli_rate, cli_wall, eval_seconds = cli_fit(args)
        results.append({"raw_images_per_s": raw_rate, "cli_images_per_s": cli_rate,
                        "ratio": cli_rate / raw_rate, "raw_wall_s": raw_wall,
                        "cli_wall_s": cli_wall, "cli_eval_and_save_s_per_epoch": eval_seconds})
        print(json.dumps({"repeat": repeat, **{k: round(v, 3) for k, v in results[-1].items()}}))
    raw = sum(r["raw_images_per_s"] for r in results) / len(results)
    cli = sum(r["cli_images_per_s"] for r in results) / len(results)
    print(f"backend {args.backend}: raw model.fit {raw:.1f} images/s, gahb train {cli:.1f} "
          f"images/s, ratio {cli / raw:.3f}")


if __name__ == "__main__":
    main()
