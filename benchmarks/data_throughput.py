"""Data throughput: synthetic generators and the noisy-pair pipeline vs. training speed.

Prints images/s for C^alpha and disc generation at 80x80 (target >= 2,000/s on a
2-core CPU), the pipeline-only throughput of `noisy_pairs` batches, and the
training throughput of a preset measured with a few `model.fit` steps on the
same batches (the pipeline must be much faster than training).

    KERAS_BACKEND=jax python benchmarks/data_throughput.py
    python benchmarks/data_throughput.py --preset unet_rf18 --batch-size 64 --size 80
"""

import argparse
import os
import tempfile
import time


def best_rate(fn, count, repeats):
    """(images/s by wall clock, images/s by this process's CPU time), best of `repeats`.

    On a shared machine the wall-clock rate depends on the other processes; the
    CPU-time rate is what the generator needs (all threads of this process counted).
    """
    wall, cpu = float("inf"), float("inf")
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return count / wall, count / cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=80)
    parser.add_argument("--n", type=int, default=4000, help="images per generator timing")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--preset", default="unet_rf18")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--train-steps", type=int, default=5)
    args = parser.parse_args()

    import keras

    from keras_gahb.data import calpha_images, disc_images, noisy_pairs, prepare_dataset
    from keras_gahb.models import from_preset

    print(f"backend {keras.backend.backend()}, size {args.size}, n {args.n}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    for alpha in (1.0, 3.0):
        wall, cpu = best_rate(lambda: calpha_images(args.n, args.size, alpha=alpha, seed=0),
                              args.n, args.repeats)
        print(f"calpha (alpha={alpha:g}) generation: {wall:,.0f} images/s wall, "
              f"{cpu:,.0f} images/s per CPU-second")
    wall, cpu = best_rate(lambda: calpha_images(args.n, args.size, alpha=3.0, seed=0,
                                                variant="authors"), args.n, args.repeats)
    print(f"calpha (alpha=3, the authors' generator) generation: {wall:,.0f} images/s wall, "
          f"{cpu:,.0f} images/s per CPU-second")
    with tempfile.TemporaryDirectory() as folder:
        runs = iter(range(args.repeats))
        wall, cpu = best_rate(lambda: prepare_dataset(os.path.join(folder, str(next(runs))),
                                                      "calpha", args.n, args.size, alpha=3.0),
                              args.n, args.repeats)
    print(f"gahb data prepare calpha --size {args.size} (generation, shards, checksums): "
          f"{wall:,.0f} images/s wall, {cpu:,.0f} images/s per CPU-second")
    wall, cpu = best_rate(lambda: disc_images(args.n, args.size, seed=0), args.n, args.repeats)
    print(f"discs generation: {wall:,.0f} images/s wall, {cpu:,.0f} images/s per CPU-second")

    images = disc_images(1000, args.size, seed=0)
    steps = 40
    dataset = noisy_pairs(images, args.batch_size, images_per_epoch=steps * args.batch_size,
                          seed=0)
    for _ in dataset.take(2):  # warm up tf.data
        pass
    start = time.perf_counter()
    count = sum(int(noisy.shape[0]) for noisy, _ in dataset)
    pipeline = count / (time.perf_counter() - start)
    print(f"noisy_pairs pipeline only (batch {args.batch_size}): {pipeline:,.0f} images/s")

    model = from_preset(args.preset, image_channels=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    short = noisy_pairs(images, args.batch_size, seed=1,
                        images_per_epoch=args.train_steps * args.batch_size)
    model.fit(short, epochs=1, verbose=0, shuffle=False)  # compile / warm up (pairs are shuffled)
    start = time.perf_counter()
    model.fit(short, epochs=1, verbose=0, shuffle=False)
    training = args.train_steps * args.batch_size / (time.perf_counter() - start)
    print(f"training {args.preset} (batch {args.batch_size}, {args.train_steps} steps): "
          f"{training:,.0f} images/s")
    print(f"pipeline / training throughput: {pipeline / training:,.1f}x "
          f"({'pipeline is not the bottleneck' if pipeline > 2 * training else 'CHECK'})")


if __name__ == "__main__":
    main()
