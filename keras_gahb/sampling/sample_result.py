"""The result of a sampling run: final images, sigma trajectories, flags, snapshots."""

import dataclasses

import numpy as np


@dataclasses.dataclass
class SampleResult:
    """What `keras_gahb.sampling.sample` returns.

    Attributes:
        images: float32 array (N, H, W, C), the final images: the last
            (projected) denoising x + d_t of each image's last iterate, or,
            for an image stopped at its noise floor, the denoising at the
            step of its lowest sigma_t.
        initial: float32 array (N, H, W, C), the initial images x_0.
        sigmas: list of N float arrays; `sigmas[i][t - 1]` is image i's
            sigma_t = ||d_t|| / sqrt(D) at iteration t. The last entry is the
            noise level the final denoising removed.
        steps: int array (N,), iterations (denoiser evaluations) per image,
            `len(sigmas[i])`.
        converged: bool array (N,), sigma reached `sigma_final`, or the
            image stopped at the denoiser's noise floor (`at_floor`).
        diverged: bool array (N,), sigma exceeded the divergence threshold or
            became non-finite (the image was frozen there).
        at_floor: bool array (N,), sigma_t stopped falling above
            `sigma_final` (no new minimum while the schedule should have
            divided the noise by `floor_factor`): the image
            stopped at the lowest noise level the denoiser reaches.
        snapshots: None, or float32 array (K, N, H, W, C) of the iterates x_t
            at `snapshot_steps` (an image that had stopped keeps its last x).
        snapshot_steps: list of K ints.
        config: dict, the resolved sampler arguments.
    """

    images: np.ndarray
    initial: np.ndarray
    sigmas: list
    steps: np.ndarray
    converged: np.ndarray
    diverged: np.ndarray
    at_floor: np.ndarray = None
    snapshots: np.ndarray = None
    snapshot_steps: list = dataclasses.field(default_factory=list)
    config: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.at_floor is None:
            self.at_floor = np.zeros(len(self.sigmas), bool)

    @property
    def final_sigmas(self):
        """float array (N,), the noise level of each output: the last sigma_t, or the
        lowest one for an image stopped at its noise floor."""
        return np.array([
            np.nan if not len(s) else (float(np.min(s)) if floor else s[-1])
            for s, floor in zip(self.sigmas, self.at_floor)
        ])

    def sigma_matrix(self):
        """float array (N, max steps) of the trajectories, padded with NaN."""
        width = int(self.steps.max()) if len(self.steps) else 0
        out = np.full((len(self.sigmas), width), np.nan)
        for i, trajectory in enumerate(self.sigmas):
            out[i, : len(trajectory)] = trajectory
        return out

    def to_dict(self):
        """A JSON-ready summary with every image's sigma trajectory."""
        return {
            "config": self.config,
            "num_images": len(self.sigmas),
            "num_converged": int(self.converged.sum()),
            "num_diverged": int(self.diverged.sum()),
            "num_at_floor": int(self.at_floor.sum()),
            "steps": self.steps.tolist(),
            "converged": self.converged.tolist(),
            "diverged": self.diverged.tolist(),
            "at_floor": self.at_floor.tolist(),
            "final_sigma": [float(s) for s in self.final_sigmas],
            "sigmas": [[float(s) for s in trajectory] for trajectory in self.sigmas],
        }

    def summary(self):
        """One line: how many images converged (at the noise floor), diverged, the step range."""
        n = len(self.sigmas)
        floor = ""
        if self.at_floor.any():
            levels = self.final_sigmas[self.at_floor]
            floor = (f" ({int(self.at_floor.sum())} at the denoiser's noise floor, sigma "
                     f"{levels.min():.3f}-{levels.max():.3f}, above sigma_final "
                     f"{self.config.get('sigma_final', float('nan')):g})")
        return (
            f"{n} images: {int(self.converged.sum())} converged{floor}, "
            f"{int(self.diverged.sum())} diverged, "
            f"{n - int(self.converged.sum()) - int(self.diverged.sum())} stopped at max_steps; "
            f"steps {int(self.steps.min())}-{int(self.steps.max())}"
        )
