"""The configuration of `gahb reproduce`: one dataclass, with named scales."""

import dataclasses

from keras_gahb.data.calpha import CALPHA_VARIANTS
from keras_gahb.experiments.plan import PAIRINGS
from keras_gahb.training.train_config import TrainConfig

#: The parts of the reproduction, in the order they run.
PARTS = ("transition", "calpha", "discs", "gahb")

# The paper's measured values (Kadkhodaie et al. 2024, https://arxiv.org/abs/2310.02557), shown
# next to ours in the report: C^alpha MSE slopes for alpha = 1, 2, 3, 5 (UNet, N = 1e5; Appendix E),
# the first ten Jacobian eigenvalues on discs at sigma = 0.04, and face eigenvalues at sigma = 0.15.
PAPER_CALPHA_SLOPES = {1.0: 0.46, 2.0: 0.61, 3.0: 0.75, 5.0: 0.83}
PAPER_DISC_EIGENVALUES = (1.177, 1.067, 1.004, 0.999, 0.945, 0.674, 0.552, 0.39, 0.304, 0.278)
PAPER_FACE_EIGENVALUES = {5: 1.244, 17: 1.115, 41: 1.008, 101: 0.822, 197: 0.59, 245: 0.51}


@dataclasses.dataclass
class ReproductionConfig:
    """Everything `gahb reproduce` does, at one scale.

    Args:
        scale: the name of the scale these values came from.
        dataset: images of the memorization -> generalization sweep
            (a `keras_gahb.data` name: "calpha", "discs", "faces", "celeba", ...).
        dataset_options: options of that dataset (e.g. {"alpha": 2.0}).
        image_size: image side in pixels.
        preset: denoiser preset (`keras_gahb.models`).
        model_overrides: constructor overrides of the preset (e.g. base_channels).
        n_values: training-set sizes N; two models (S1, S2) are trained per N.
        images_per_model: training images seen by every model, whatever its N
            (the paper tiles each epoch to 250,000 images for 1,000 epochs).
        epochs: epochs over which `images_per_model` is spread.
        batch_size: training batch size.
        learning_rate: peak Adam learning rate.
        schedule: "cosine" (decayed to 0: low optimization noise) or "paper".
        recipe: training recipe of every model ("paper": quadratic sigma, plain
            MSE; "cpu": log-uniform sigma in [0.005, 1], loss weight 1/sigma;
            `keras_gahb.training.RECIPES`), the transition's excepted. The report
            states it per model.
        transition_recipe: recipe of the transition models; None = `recipe`.
            Default "balanced" (quadratic sigma, loss weight 1/sqrt(sigma)): at
            the quick budget "cpu" stops the N = 10 models memorizing.
        sigma_distribution: None (the recipe's) or a noise-level distribution
            ("quadratic", "uniform", "log_uniform", "mixture") overriding it.
        loss_weight: None (the recipe's) or a per-image loss weight ("none",
            "inverse_sqrt_sigma", "inverse_sigma", "inverse_variance", "edm").
        test_size: held-out test images.
        eval_sigmas: noise levels of the PSNR curves and model-variance measure.
        variance_sigma_max: the model-variance claim is checked for sigma <= this.
        num_samples: samples drawn from each model (same seeds for S1 and S2).
        sampler: keyword arguments of `keras_gahb.sampling.sample`.
        calpha_alphas: regularities of the C^alpha part.
        calpha_n: training images of each C^alpha model.
        calpha_images_per_model: training images seen by each C^alpha model.
        slope_sigmas: noise levels of the log MSE vs log sigma^2 fits.
        discs_n: training images of the disc model.
        discs_images_per_model: training images seen by the disc model.
        jacobian_sigma: noise level of the Jacobian eigen-analysis (paper: 0.04
            for discs, 0.15 for faces).
        gahb_sigma: noise level of the GAHB eigenvector figure.
        seed: the master seed. Every model gets its own seed derived from it
            and (part, N, split, replicate) (`keras_gahb.experiments.plan`).
        pairing: "independent" (default: S1 and S2 have their own seeds for
            weights and noise, as in the paper) or "same_seed" (an ablation:
            S1 and S2 share the master seed).
        control: also train S1' per N (S1 again with another seed), the
            optimization-noise floor of every S1-vs-S2 measure. Default True.
        calpha_variant: C^alpha generator of the "calpha" part and of a
            "calpha" sweep ("authors" or "fixed_ranges"; `keras_gahb.data`).
        gahb_ks: K values shown in the GAHB energy table (those within the kept subspace,
            beside K = 1 and its size; the adaptation check runs every K up to it).
        precision: "float32", "mixed_bfloat16" or "mixed_float16".
        stack: train the models of one N (S1, S2, S1') and the C^alpha models
            side by side in one step (`keras_gahb.training.train_stacked`): the
            same models up to float rounding; the quick run took 13.9 minutes
            this way on a 2-core AVX2 CPU (docs/reproduce.md).
            An execution setting, not part of the science: a run may be resumed
            with either value. Default True.
    """

    scale: str = "quick"
    dataset: str = "calpha"
    dataset_options: dict = dataclasses.field(default_factory=lambda: {"alpha": 2.0})
    image_size: int = 16
    preset: str = "unet_small"
    model_overrides: dict = dataclasses.field(
        default_factory=lambda: {"gamma_initializer": "authors"})
    n_values: tuple = (10, 1000, 10000)
    images_per_model: int = 48_000
    epochs: int = 4
    batch_size: int = 64
    learning_rate: float = 1e-3
    schedule: str = "cosine"
    recipe: str = "cpu"
    transition_recipe: object = "balanced"
    sigma_distribution: object = None
    loss_weight: object = None
    test_size: int = 256
    eval_sigmas: tuple = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
    variance_sigma_max: float = 0.5
    num_samples: int = 16
    sampler: dict = dataclasses.field(
        # sigma_final = 0.05 is the paper's (the authors' code default is 0.01): below the
        # quick models' small-sigma error floor, 0.01 is never reached and most runs diverge.
        default_factory=lambda: {"h0": 0.01, "beta": 0.1, "sigma0": 1.0, "sigma_final": 0.05,
                                 "max_steps": 2000}
    )
    calpha_alphas: tuple = (1.0, 2.0, 3.0, 5.0)
    calpha_n: int = 10000
    calpha_images_per_model: int = 128_000
    slope_sigmas: tuple = (0.02, 0.04, 0.08, 0.16, 0.32)
    discs_n: int = 10000
    discs_images_per_model: int = 96_000
    jacobian_sigma: float = 0.04
    gahb_sigma: float = 0.15
    seed: int = 0
    pairing: str = "independent"
    control: bool = True
    calpha_variant: str = "authors"
    gahb_ks: tuple = (8, 16, 32, 64, 128)
    precision: str = "float32"
    stack: bool = True

    def to_dict(self):
        """A JSON-ready dict (tuples as lists)."""
        return dataclasses.asdict(self)

    def training_recipe(self, part=None):
        """The resolved `keras_gahb.training.TrainConfig` recipe options of a part's models.

        `part="transition"` takes `transition_recipe` (when set); every other part `recipe`.
        `sigma_distribution` and `loss_weight`, when set, override both.
        """
        recipe = self.recipe
        if part == "transition" and self.transition_recipe is not None:
            recipe = self.transition_recipe
        resolved = TrainConfig(recipe=recipe, sigma_distribution=self.sigma_distribution,
                               loss_weight=self.loss_weight)
        return {"recipe": resolved.recipe, "sigma_distribution": resolved.sigma_distribution,
                "sigma_min": resolved.sigma_min, "loss_weight": resolved.loss_weight}

    def recipe_label(self, part=None):
        """The recipe of a part's models in words, as the report states it."""
        return TrainConfig(**self.training_recipe(part)).recipe_label()

    @classmethod
    def fields(cls):
        """The names of every option."""
        return [f.name for f in dataclasses.fields(cls)]


SCALES = {
    # Seconds: for tests and CI only (numbers are not meaningful).
    "tiny": dict(
        image_size=8, preset="unet_tiny", n_values=(2, 16), images_per_model=256, epochs=1,
        batch_size=32, test_size=16, eval_sigmas=(0.1, 0.3, 0.5), num_samples=4,
        sampler={"h0": 0.2, "beta": 0.5, "sigma0": 1.0, "sigma_final": 0.2, "max_steps": 40},
        calpha_alphas=(1.0, 3.0), calpha_n=64, calpha_images_per_model=256,
        slope_sigmas=(0.05, 0.1, 0.2), discs_n=64, discs_images_per_model=256,
        jacobian_sigma=0.1, gahb_sigma=0.1,
    ),
    # The default. With 16,000 C^alpha and 32,000 disc images per model (the paper's recipe) it
    # took 13.9 minutes end to end on a 2-core AVX2 CPU (docs/reproduce.md); it now trains the
    # C^alpha and disc models with the "cpu" recipe (log-uniform sigma, loss weight 1/sigma: the
    # recipe study of docs/performance.md) on 128,000 and 96,000 images, the transition models
    # with "balanced" (quadratic sigma, loss weight 1/sqrt(sigma)); 8.0 minutes measured on a
    # 2-core Zen 4 (AVX-512) CPU (docs/reproduce.md).
    # 3 models per N (S1, S2, S1'), fewer N but more
    # images per model, the authors' C^alpha generator (richer than the fixed-ranges one:
    # a fresh image correlates 0.81 with its nearest of 1,000 training images, not 0.91).
    "quick": dict(),
    # About an hour on a 2-core CPU (<= 2 h), resumable: the quick scale's data and sizes with
    # twice the width (unet_small at 32 base channels), 3-4x the images per model, N = 100
    # added and the "cpu" recipe everywhere. At 32 channels and 128,000 images the cpu recipe
    # memorizes at N = 10 (1.00 up to scale, variance ratio 4.64; at the quick width and budget
    # it did not), and 32 channels gain 0.5-0.7 dB over 16 on C^alpha alpha = 1 at 0.05-0.2
    # (benchmarks/time_to_quality.py; docs/performance.md). Measured end to end in
    # docs/reproduce.md.
    "medium": dict(
        model_overrides={"gamma_initializer": "authors", "base_channels": 32},
        n_values=(10, 100, 1000, 10000), images_per_model=160_000, epochs=10,
        transition_recipe=None, test_size=512, num_samples=32,
        calpha_n=50_000, calpha_images_per_model=512_000,
        discs_n=50_000, discs_images_per_model=256_000,
    ),
    # The paper's configuration (GPU/TPU): CelebA 80x80, unet_rf90, N up to 1e5.
    # CelebA from every partition with the authors' near-duplicate rule (|corr| > 0.95 on 20x20
    # pooled images): about 198,650 faces, so the largest N that fits twice beside the 512 test
    # images is 99,069 (the paper's 99,325 has no held-out test set beside it).
    "paper": dict(
        dataset="celeba", dataset_options={"split": "all", "deduplicate": 0.95}, image_size=80,
        preset="unet_rf90", model_overrides={"gamma_initializer": "authors"},
        n_values=(1, 10, 100, 1000, 10000, 99_000), images_per_model=250_000_000,
        epochs=1000, batch_size=512, schedule="paper", recipe="paper", transition_recipe=None,
        test_size=512, num_samples=64,
        sampler={"h0": 0.01, "beta": 0.1, "sigma0": 1.0, "sigma_final": 0.01,
                 "max_steps": 5000},
        calpha_n=100000, calpha_images_per_model=25_000_000, slope_sigmas=(
            0.01, 0.02, 0.04, 0.08, 0.16, 0.32),
        discs_n=100000, discs_images_per_model=25_000_000, jacobian_sigma=0.04,
    ),
}


#: Images a dataset can supply, per (name, split option, deduplicated); None = unlimited.
#: CelebA deduplicated: the paper's count (ours is checked exactly when the pool is read).
KNOWN_CAPACITY = {
    ("celeba", "train", False): 162_770,
    ("celeba", "all", False): 202_599,
    ("celeba", "train", True): 159_600,
    ("celeba", "all", True): 198_650,
    ("faces", None, False): 100,
}


def pool_size(config):
    """Images the transition needs: S1 and S2 of the largest N, and the test set."""
    return 2 * max(config.n_values) + config.test_size


def check_capacity(config):
    """Raise a ValueError, before any training, when the dataset cannot supply the pool.

    Known capacities: CelebA per split (train 162,770, all 202,599; about 198,650
    after near-duplicate removal), the bundled LFW faces (100). The message gives the
    largest N that fits.
    """
    options = config.dataset_options or {}
    split = options.get("split", "train") if config.dataset == "celeba" else None
    dedup = options.get("deduplicate") is not None
    capacity = KNOWN_CAPACITY.get((config.dataset, split, dedup))
    needed = pool_size(config)
    if capacity is not None and needed > capacity:
        largest = (capacity - config.test_size) // 2
        raise ValueError(
            f"The transition needs 2 x {max(config.n_values):,} + {config.test_size} = "
            f"{needed:,} images of {config.dataset!r}"
            + (f" (split {split!r}{', deduplicated' if dedup else ''})" if split else "")
            + f", which holds about {capacity:,}. The largest N that fits is {largest:,}: "
            f"set n_values accordingly (--set n_values=[...])."
        )
    return needed


def config_for_scale(scale="quick", **overrides):
    """The `ReproductionConfig` of a named scale, with `overrides` applied.

    Raises:
        ValueError: unknown scale or unknown option (the message lists the
            valid ones).
    """
    if scale not in SCALES:
        raise ValueError(f"Unknown scale '{scale}'. Valid scales: {', '.join(SCALES)}.")
    unknown = sorted(set(overrides) - set(ReproductionConfig.fields()))
    if unknown:
        raise ValueError(
            f"Unknown reproduction option(s): {', '.join(unknown)}. Valid options: "
            f"{', '.join(ReproductionConfig.fields())}."
        )
    values = dict(SCALES[scale])
    values.update(overrides)
    config = ReproductionConfig(scale=scale, **values)
    if config.pairing not in PAIRINGS:
        raise ValueError(f"Unknown pairing {config.pairing!r}; use one of {', '.join(PAIRINGS)}.")
    if config.calpha_variant not in CALPHA_VARIANTS:
        raise ValueError(f"Unknown calpha_variant {config.calpha_variant!r}; use one of "
                         f"{', '.join(CALPHA_VARIANTS)}.")
    config.training_recipe()  # a bad recipe, distribution or weight: a ValueError here
    config.training_recipe("transition")
    if not any(n >= 2 for n in config.n_values):
        raise ValueError(f"n_values needs some N >= 2 (memorization is measured from N = 2); "
                         f"got {list(config.n_values)}.")
    return config
