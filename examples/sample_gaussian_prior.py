"""Sample from the prior implicit in a denoiser whose prior is known, and solve an inverse problem.

The prior is a Gaussian on a 6-dimensional subspace of 16x16 images; its optimal *blind* denoiser
has a closed form, so we can check what the coarse-to-fine sampler draws against the truth,
compare two denoisers from the same seed (same x_0 and z_t), and inpaint an image.

Run: python examples/sample_gaussian_prior.py   (about half a minute on a laptop CPU)
"""

import keras
import numpy as np

import keras_gahb
from keras_gahb import sampling


# %% A prior with a known optimal denoiser
class GaussianSubspaceDenoiser:
    """Optimal blind denoiser of x = mean + U a, a ~ N(0, diag(lam)), U: D x k orthonormal."""

    def __init__(self, basis, lam, mean=0.5):
        self.basis, self.lam, self.mean = basis.astype("float32"), lam.astype("float32"), mean

    def __call__(self, y):
        ops = keras.ops
        dim, k = self.basis.shape
        basis, lam = ops.convert_to_tensor(self.basis), ops.convert_to_tensor(self.lam)
        r = ops.reshape(y, (-1, dim)) - self.mean
        c = ops.matmul(r, basis)
        off = r - ops.matmul(c, ops.transpose(basis))  # noise only: estimates sigma^2
        s2 = ops.maximum(ops.sum(ops.square(off), axis=1, keepdims=True) / (dim - k), 1e-10)
        out = self.mean + ops.matmul(c * lam / (lam + s2), ops.transpose(basis))
        return ops.reshape(out, ops.shape(y))


rng = np.random.default_rng(0)
shape = (16, 16, 1)
dim = int(np.prod(shape))
lam = np.geomspace(0.04, 0.004, 6)
basis_a = np.linalg.qr(rng.standard_normal((dim, dim)))[0][:, :6]
basis_b = np.linalg.qr(rng.standard_normal((dim, dim)))[0][:, :6]
denoiser_a = GaussianSubspaceDenoiser(basis_a, lam)
denoiser_b = GaussianSubspaceDenoiser(basis_b, lam)

# %% Sampling
# 1. Samples: mean 0.5, variances along U close to lam (the sampler under-disperses a little).
result = sampling.sample(denoiser_a, (300,) + shape, seed=0, verbose=0)
print(result.summary())
coords = (result.images.reshape(300, -1) - 0.5) @ basis_a
print("prior variances  ", np.round(lam, 4))
print("sample variances ", np.round(coords.var(axis=0), 4))
print("max |sample mean - 0.5| along U:", float(np.abs(coords.mean(axis=0)).max()))

# %% Two denoisers, one seed
# 2. Two denoisers, same seed: identical x_0 (and z_t), different samples.
other = sampling.sample(denoiser_b, (8,) + shape, seed=0)
first = sampling.sample(denoiser_a, (8,) + shape, seed=0)
assert np.array_equal(first.initial, other.initial)
print("cosine similarity A vs B (mean removed):",
      np.round(keras_gahb.analysis.cosine_similarity(first.images, other.images, mean_removed=True), 3))

# %% An inverse problem
# 3. Inpainting: a 6-dimensional prior is pinned down by the 192 known pixels.
clean = 0.5 + (rng.standard_normal((1, 6)) * np.sqrt(lam)) @ basis_a.T
clean = clean.reshape((1,) + shape).astype("float32")
operator = sampling.Inpainting.box(shape, hole=8)
solved = sampling.solve_inverse_problem(denoiser_a, operator, operator.measure(clean),
                                        num_samples=4, seed=1)
rmse = np.sqrt(np.mean((solved.images - clean) ** 2, axis=(1, 2, 3)))
print("inpainting RMSE of 4 solutions:", np.round(rmse, 4))
