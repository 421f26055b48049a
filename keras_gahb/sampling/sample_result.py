"""The result of a sampling run: final images, sigma trajectories, flags, snapshots."""

import dataclasses

import numpy as np


@dataclasses.dataclass
class SampleResult:
    """What `keras_gahb.sampling.sample` returns.

    Attributes:
        images: float32 array (N, H, W, C), the final images: the last
            (projected) denoising x + d_t of each image's last iterate.
        initial: float32 array (N, H, W, C), the initial images x_0.
        sigmas: list of N float arrays; `sigmas[i][t - 1]` is image i's
            sigma_t = ||d_t|| / sqrt(D) at iteration t. The last entry is the
            noise level the final denoising removed.
        steps: int array (N,), iterations (denoiser evaluations) per image,
            `len(sigmas[i])`.
        converged: bool array (N,), sigma reached `sigma_final`.
        diverged: bool array (N,), sigma exceeded the divergence threshold or
            became non-finite (the image was frozen there).
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
    snapshots: np.ndarray = None
    snapshot_steps: list = dataclasses.field(default_factory=list)
    config: dict = dataclasses.field(default_factory=dict)

    @property
    def final_sigmas(self):
        """float array (N,), each image's last sigma_t."""
        return np.array([s[-1] if len(s) else np.nan for s in self.sigmas])

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
            "steps": self.steps.tolist(),
            "converged": self.converged.tolist(),
            "diverged": self.diverged.tolist(),
            "final_sigma": [float(s) for s in self.final_sigmas],
            "sigmas": [[float(s) for s in trajectory] for trajectory in self.sigmas],
        }

    def summary(self):
        """One line: how many images converged, diverged, and the step range."""
        n = len(self.sigmas)
        return (
            f"{n} images: {int(self.converged.sum())} converged, "
            f"{int(self.diverged.sum())} diverged, "
            f"{n - int(self.converged.sum()) - int(self.diverged.sum())} stopped at max_steps; "
            f"steps {int(self.steps.min())}-{int(self.steps.max())}"
        )
