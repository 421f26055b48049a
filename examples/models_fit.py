"""Build a bias-free denoiser preset, fit it on a few built-in faces, and check f(a y) = a f(y).

Run: python examples/models_fit.py
"""

import keras
import numpy as np
import skimage.data
import skimage.transform

import keras_gahb

# %% Data
# A few real faces that ship with scikit-image (no download), resized to 16x16, in [0, 1].
faces = skimage.data.lfw_subset()[:64]
faces = np.stack([skimage.transform.resize(face, (16, 16), anti_aliasing=True) for face in faces])
clean = faces[..., None].astype("float32")
rng = np.random.default_rng(0)
sigma = 0.1
noisy = (clean + sigma * rng.normal(size=clean.shape)).astype("float32")

# %% A preset, fitted
keras.utils.set_random_seed(0)  # the same initial weights and batch order on every run
model = keras_gahb.models.from_preset("unet_tiny")
# count_params() also counts the batch norms' moving_std (statistics, not trained): 5,936 in all.
trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
print(f"unet_tiny: {trainable:,} trainable parameters ({model.count_params():,} with the "
      f"moving_std statistics), receptive field {model.receptive_field}")
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
model.fit(noisy, clean, epochs=150, batch_size=16, verbose=0)

# %% How well it denoises
denoised = model.predict(noisy, verbose=0)
psnr_in = 10 * np.log10(1 / np.mean((noisy - clean) ** 2))
psnr_out = 10 * np.log10(1 / np.mean((denoised - clean) ** 2))
print(f"PSNR at sigma={sigma}: noisy {psnr_in:.2f} dB -> denoised {psnr_out:.2f} dB")

# %% Bias-free: f(a y) = a f(y)
# The bias-free identity holds for any positive scaling in inference mode.
scaled = model.predict(3.0 * noisy[:4], verbose=0)
print("max |f(3y) - 3 f(y)| =", float(np.abs(scaled - 3.0 * denoised[:4]).max()))
