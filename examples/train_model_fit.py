"""Train a bias-free denoiser with plain model.fit in your own script, the paper's way.

Pieces: keras_gahb.data (images, disjoint splits, noisy pairs), keras_gahb.models (a preset),
keras_gahb.training (Adam + cosine schedule to 0 + EMA of the weights, PSNR callback).

Run: python examples/train_model_fit.py   (1-2 minutes on a laptop CPU)
"""

import keras
import numpy as np

import keras_gahb

# %% Data and noisy pairs
# 100 gray faces that ship with scikit-image (no download), 32x32, in [0, 1].
pool = keras_gahb.data.get_images("faces", 100, size=32, seed=0)
split = keras_gahb.data.disjoint_subsets(len(pool), n=40, test_size=20, seed=0)
train_x, test_x = pool[split.s1], pool[split.test]

# (noisy, clean) batches; per-image sigma = U^2 (the paper's "quadratic"); each epoch tiled to
# 400 images so that the number of steps does not depend on N.
epochs, batch_size, images_per_epoch = 15, 16, 400
pairs = keras_gahb.data.noisy_pairs(train_x, batch_size, sigma="quadratic",
                                    images_per_epoch=images_per_epoch, seed=0)
steps = keras_gahb.training.steps_per_epoch(len(train_x), batch_size, images_per_epoch)

# %% The paper's recipe with model.fit
keras.utils.set_random_seed(0)
model = keras_gahb.models.from_preset("unet_small")
keras_gahb.training.compile_denoiser(
    model, learning_rate=1e-3, schedule="cosine", steps_per_epoch=steps, epochs=epochs,
    ema_momentum="auto",
)
psnr = keras_gahb.training.PSNRCallback(train_x[:20], test_x, sigmas=[0.05, 0.1, 0.2, 0.4])
grid = keras_gahb.training.DenoisedGridCallback(test_x[:8], "denoised_grid.png", sigma=0.2)
history = model.fit(pairs, epochs=epochs, callbacks=[psnr, grid], verbose=2, shuffle=False)
keras_gahb.training.detach_weights(model)  # JAX + EMA: see docs/training.md

# %% Output PSNR against input PSNR
print(f"{'sigma':>6} {'input':>7} {'train':>7} {'test':>7}   (PSNR, dB)")
for i, sigma in enumerate(psnr.sigmas):
    print(f"{sigma:>6g} {psnr.input_psnr['test'][i]:7.2f} {psnr.curves['train'][i]:7.2f} "
          f"{psnr.curves['test'][i]:7.2f}")
gain = psnr.curves["test"][1] - psnr.input_psnr["test"][1]
print(f"test PSNR gain at sigma=0.1: {gain:+.2f} dB")
model.save("denoiser.keras")

# %% Bias-free after training
# The bias-free identity f(a y) = a f(y) survives training.
y = test_x[:4] + 0.1 * np.random.default_rng(1).normal(size=test_x[:4].shape).astype("float32")
print("max |f(2y) - 2 f(y)| =",
      float(np.abs(model.predict(2 * y, verbose=0) - 2 * model.predict(y, verbose=0)).max()))
