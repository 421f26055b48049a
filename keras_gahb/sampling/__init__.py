"""Sampling from the prior implicit in a denoiser, and solving linear inverse problems.

`sample` runs the stochastic coarse-to-fine gradient ascent of Kadkhodaie &
Simoncelli (2021) with any blind denoiser; `solve_inverse_problem` runs the
same loop constrained by a `LinearMeasurement` (`Inpainting`, `RandomPixels`,
`SuperResolution`, `CompressiveSensing`); `run_sampling` is what
`gahb sample` calls. Every image ends in one of `OUTCOMES` (reached sigma_final,
stopped at the denoiser's noise floor, diverged, max_steps); `clean_image_floor`
measures that floor on clean images.
"""

from keras_gahb.backend.compile import compile_function, functional_denoiser
from keras_gahb.sampling.compressive_sensing import CompressiveSensing
from keras_gahb.sampling.inpainting import Inpainting
from keras_gahb.sampling.linear_measurement import LinearMeasurement
from keras_gahb.sampling.noise import counter_normal
from keras_gahb.sampling.noise_floor import clean_image_floor
from keras_gahb.sampling.random_pixels import RandomPixels
from keras_gahb.sampling.run import TASKS, load_image, make_operator, run_sampling
from keras_gahb.sampling.sample_result import OUTCOMES, SampleResult
from keras_gahb.sampling.sampler import noise_scale, sample, solve_inverse_problem, step_size
from keras_gahb.sampling.super_resolution import SuperResolution

__all__ = [
    "CompressiveSensing",
    "Inpainting",
    "LinearMeasurement",
    "OUTCOMES",
    "RandomPixels",
    "SampleResult",
    "SuperResolution",
    "TASKS",
    "clean_image_floor",
    "compile_function",
    "counter_normal",
    "functional_denoiser",
    "load_image",
    "make_operator",
    "noise_scale",
    "run_sampling",
    "sample",
    "solve_inverse_problem",
    "step_size",
]
