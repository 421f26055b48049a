"""The result of a sampling run: final images, sigma trajectories, outcomes, snapshots."""

import dataclasses

import numpy as np

#: How a sampler run can end, one per image (`SampleResult.outcomes`), in this order:
#: "reached" sigma_t <= sigma_final; "floor" stopped at the denoiser's noise floor (sigma_t set
#: no new minimum over a window in which the schedule should have divided the noise by
#: `floor_factor`); "diverged" sigma_t > divergence_sigma or non-finite; "max_steps" none of
#: these after max_steps iterations.
OUTCOMES = ("reached", "floor", "diverged", "max_steps")


@dataclasses.dataclass
class SampleResult:
    """What `keras_gahb.sampling.sample` returns.

    Every image ends in exactly one of four outcomes (`OUTCOMES`, `outcomes`):

    - **reached** (`converged`): sigma_t <= sigma_final.
    - **floor** (`at_floor`): sigma_t stopped decreasing above sigma_final. Precisely: since
      its lowest sigma_t (at step t*), no step set a new minimum while the schedule's factor
      prod_{s = t*+1}^{t} (1 - beta h_s) fell to 1 / floor_factor; the output is the denoising
      at step t* and `final_sigmas` holds that lowest sigma_t (the floor).
    - **diverged** (`diverged`): sigma_t > divergence_sigma (2, the authors' rule) or
      non-finite.
    - **max_steps** (`hit_max_steps`): none of these within max_steps iterations.

    Only "reached" means the run did what the algorithm promises; "floor" outputs are
    denoisings at the lowest noise level the denoiser reaches (`usable` = reached or floor).

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
        converged: bool array (N,), sigma_t reached `sigma_final` (outcome
            "reached"; an image stopped at its noise floor is not converged).
        diverged: bool array (N,), sigma exceeded the divergence threshold or
            became non-finite (the image was frozen there).
        at_floor: bool array (N,), the image stopped at the denoiser's noise
            floor (outcome "floor", see above).
        snapshots: None, or float32 array (K, N, H, W, C) of the iterates x_t
            at `snapshot_steps` (an image that had stopped keeps its last x).
        snapshot_steps: list of K ints.
        config: dict, the resolved sampler arguments.

    Example:

    >>> result = keras_gahb.sampling.sample(lambda y: 0.5 + 0.7 * (y - 0.5), (3, 4, 4, 1),
    ...                                     sigma_final=0.05)
    >>> result.outcome_counts()
    {'reached': 3, 'floor': 0, 'diverged': 0, 'max_steps': 0}
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
        self.converged = np.asarray(self.converged, bool)
        self.diverged = np.asarray(self.diverged, bool)
        self.at_floor = np.asarray(self.at_floor, bool)
        if np.any(self.converged & self.at_floor) or np.any((self.converged | self.at_floor)
                                                            & self.diverged):
            raise ValueError("An image has more than one outcome: converged, at_floor and "
                             "diverged must be disjoint.")

    @property
    def hit_max_steps(self):
        """bool array (N,), the image ran max_steps iterations without another outcome."""
        return ~(self.converged | self.at_floor | self.diverged)

    @property
    def usable(self):
        """bool array (N,), reached sigma_final or stopped at the noise floor: the output is a
        denoising at the lowest noise level of the run (not so for diverged or max_steps)."""
        return self.converged | self.at_floor

    @property
    def outcomes(self):
        """str array (N,), each image's outcome, one of `OUTCOMES`."""
        out = np.full(len(self.sigmas), "max_steps", dtype=object)
        out[self.converged] = "reached"
        out[self.at_floor] = "floor"
        out[self.diverged] = "diverged"
        return out

    def outcome_counts(self):
        """dict outcome -> number of images, for every outcome of `OUTCOMES` (in that order)."""
        outcomes = self.outcomes
        return {name: int(np.sum(outcomes == name)) for name in OUTCOMES}

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
        """A JSON-ready summary with every image's outcome and sigma trajectory."""
        counts = self.outcome_counts()
        return {
            "config": self.config,
            "num_images": len(self.sigmas),
            "outcome_counts": counts,
            "num_converged": counts["reached"],
            "num_at_floor": counts["floor"],
            "num_diverged": counts["diverged"],
            "num_max_steps": counts["max_steps"],
            "steps": self.steps.tolist(),
            "outcomes": self.outcomes.tolist(),
            "converged": self.converged.tolist(),
            "diverged": self.diverged.tolist(),
            "at_floor": self.at_floor.tolist(),
            "final_sigma": [float(s) for s in self.final_sigmas],
            "sigmas": [[float(s) for s in trajectory] for trajectory in self.sigmas],
        }

    def summary(self):
        """One line: how many images reached sigma_final, stopped at the noise floor (at which
        sigma), diverged, stopped at max_steps; the step range."""
        counts = self.outcome_counts()
        floor = ""
        if counts["floor"]:
            levels = self.final_sigmas[self.at_floor]
            floor = f" (sigma {levels.min():.3f}-{levels.max():.3f})"
        steps = f"steps {int(self.steps.min())}-{int(self.steps.max())}" if len(self.steps) else "no steps"
        return (
            f"{len(self.sigmas)} images: {counts['reached']} reached sigma_final "
            f"{self.config.get('sigma_final', float('nan')):g}, {counts['floor']} stopped at the "
            f"denoiser's noise floor{floor}, {counts['diverged']} diverged, "
            f"{counts['max_steps']} stopped at max_steps; {steps}"
        )
