"""Denoisers that ship with keras_gahb: load them, check them, sample from them.

The medium reproduction's largest-N transition pair (two UNets trained on disjoint sets of
10,000 C^alpha images), its C^alpha alpha = 2 and its disc denoiser ship with the package
(`gahb models` lists them). This loads one, recomputes the test PSNRs stored beside its
weights, checks that it has no bias (f(a y) = a f(y)), and draws samples from the S1 and S2
models with the same seed: models trained on disjoint sets that generalize draw nearly the
same images from the same noise (the paper's Fig. 1), far closer to each other than to their
own nearest training images would suggest.

Run: python examples/pretrained_presets.py   (about a minute on a laptop CPU)
"""

import numpy as np

import keras
import keras_gahb
from keras_gahb import analysis, sampling
from keras_gahb.models import pretrained

# %% Which denoisers ship with weights, and how good they are
for name, manifest in pretrained.pretrained_presets().items():
    test = manifest["test"]
    print(f"{name}: {manifest['description']}")
    print("  stored test PSNR (dB) at sigma "
          + ", ".join(f"{s:g}: {p:.2f}" for s, p in zip(test["sigmas"], test["psnr"])))

# %% Load one and recompute what is stored (same images from the seed, same noise)
name = "calpha2_medium"
denoiser = keras_gahb.models.from_preset(name, weights=True)
measured = pretrained.pretrained_test_psnr(name, model=denoiser)
for s, p, stored, noisy in zip(measured["sigmas"], measured["psnr"], measured["stored"],
                               measured["input_psnr"]):
    print(f"{name} at sigma {s:g}: noisy {noisy:.2f} dB -> {p:.2f} dB (stored {stored:.2f})")

# %% No bias: f(a y) = a f(y) for any a > 0
images = pretrained.test_images(pretrained.get_pretrained(name))[:8]
noisy = images + 0.1 * np.random.default_rng(0).standard_normal(images.shape).astype("float32")
f_y = keras.ops.convert_to_numpy(denoiser(noisy))
f_3y = keras.ops.convert_to_numpy(denoiser(3 * noisy))
print(f"max |f(3y) - 3 f(y)| = {np.abs(f_3y - 3 * f_y).max():.2e}")

# %% Two models trained on disjoint sets, sampled from the same seed
pair = [keras_gahb.models.from_preset(f"transition_n10000_{s}_medium", weights=True)
        for s in ("s1", "s2")]
settings = pretrained.get_pretrained("transition_n10000_s1_medium")["sampler"]
runs = [sampling.sample(f, (8, 16, 16, 1), seed=7, **settings) for f in pair]
both = runs[0].usable & runs[1].usable
a, b = runs[0].images[both], runs[1].images[both]
same_seed = analysis.cosine_similarity(a, b, mean_removed=True)
other = analysis.cosine_similarity(a, np.roll(b, 1, axis=0), mean_removed=True)
print(f"S1 vs S2 samples, same seed: mean correlation {np.mean(same_seed):.3f} over "
      f"{int(both.sum())} samples; different seeds: {np.mean(other):.3f}")
