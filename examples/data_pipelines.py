"""Tour of keras_gahb.data: synthetic sets, disjoint splits, noisy pairs, the Wiener reference.

Run: python examples/data_pipelines.py   (well under a minute on a CPU)
Writes data_examples.png (discs, C^alpha, faces, sinusoids) in the current folder.
"""

import keras
import numpy as np

import keras_gahb.data as data

# %% Synthetic and built-in images
# 1. Synthetic and built-in images, all float32 (n, H, W, C) in [0, 1], deterministic by seed.
discs, params = data.disc_images(8, size=32, seed=0, return_params=True)
print("disc parameters of image 0 (cx, cy, r, fg, bg):", np.round(params[0], 2))
grid = np.concatenate([
    discs,
    data.get_images("calpha", 8, 32, seed=0, alpha=3.0),
    data.get_images("faces", 8, 32),
    data.get_images("sinusoids", 8, 32, seed=0),
])
data.save_image_grid(grid, "data_examples.png", columns=8)
print("wrote data_examples.png")

# %% Disjoint training sets
# 2. Two disjoint training sets S1, S2 of N images and a held-out test set (the paper's setup).
pool = data.get_images("discs", 600, 16, seed=1)
split = data.disjoint_subsets(len(pool), n=100, test_size=64, seed=0)
print(f"S1 {len(split.s1)}, S2 {len(split.s2)}, test {len(split.test)}, "
      f"shared S1/S2: {len(set(split.s1) & set(split.s2))}")

# %% Noisy pairs for model.fit
# 3. (noisy, clean) batches with sigma = U^2 (paper), tiled to a fixed number of images per epoch.
train = data.noisy_pairs(pool[split.s1], batch_size=32, sigma="quadratic",
                         images_per_epoch=320, seed=0)
model = keras.Sequential([keras.Input((16, 16, 1)),
                          keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
                          keras.layers.Conv2D(1, 3, padding="same")])
model.compile(optimizer="adam", loss="mse")
history = model.fit(train, epochs=3, verbose=0, shuffle=False)  # the pairs come shuffled
print("training loss per epoch:", np.round(history.history["loss"], 4))

# %% The Wiener reference
# 4. Gaussian images: the optimal denoiser is a Wiener filter with a closed-form MSE.
prior = data.GaussianImages(16, spectrum_exponent=2.0)
x = prior.sample(256, seed=0)
sigma = 0.1
y = data.add_noise(x, sigma, seed=1)
mse = np.mean((prior.optimal_denoiser(y, sigma) - x) ** 2)
print(f"Wiener filter at sigma={sigma}: measured MSE {mse:.5f}, "
      f"closed form {prior.optimal_mse(sigma):.5f}, noise {sigma**2:.5f}")
