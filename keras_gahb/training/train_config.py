"""The settings of one training run: a dataclass whose fields are `train`'s keyword arguments."""

import dataclasses
import json
import numbers
import os
import sys

SCHEDULES = ("cosine", "paper", "constant")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
STRATEGIES = ("mirrored", "multi_worker", "tpu", "data_parallel")
SPLITS = ("s1", "s2")
NOISES = ("quadratic", "uniform", "log_uniform", "mixture")
#: Per-image loss weights w(sigma) (`keras_gahb.data.loss_weights`).
LOSS_WEIGHTS = ("none", "inverse_sqrt_sigma", "inverse_sigma", "inverse_variance", "edm")
#: Smallest training noise level of "log_uniform" and "mixture" when sigma_min is not given.
LOG_SIGMA_MIN = 0.005

#: Named training recipes: the noise-level distribution and the per-image loss weight.
#: "paper": the authors' (sigma = U^2, plain MSE). "cpu": chosen from the recipe study of
#: docs/performance.md (log-uniform sigma in [0.005, 1], loss weight 1/sigma): on a CPU budget
#: (192,000 images seen) it removes the small-sigma floor of the paper's recipe.
RECIPES = {
    "paper": {"sigma_distribution": "quadratic", "sigma_min": 0.0, "loss_weight": "none"},
    "cpu": {"sigma_distribution": "log_uniform", "sigma_min": LOG_SIGMA_MIN,
            "loss_weight": "inverse_sigma"},
}

# Datasets whose pool is finite and small: test_size=None picks what is left after S1 and S2.
_POOL_LIMITS = {"faces": 100}


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run; `gahb train` flags and config-file keys map onto it.

    The run is: draw a pool of `2 n + test_size` images of `dataset`, split it
    with `keras_gahb.data.disjoint_subsets(seed=seed)` into S1, S2 (n images
    each) and a test set, train `preset` on `split` with
    `keras_gahb.data.noisy_pairs` (per-image sigma from `sigma_distribution`),
    Adam and MSE loss (weighted per image by `loss_weight`), and evaluate PSNR
    on a fixed train subset and the test set.

    `recipe` names a noise-level distribution and a loss weight ("paper": the
    authors' quadratic sigma, plain MSE; "cpu": log-uniform sigma in [0.005, 1]
    with loss weight 1/sigma); `sigma_distribution`, `sigma_min` and
    `loss_weight` override its parts. The resolved values are stored, so
    `to_dict()` (a run's config.json) says exactly what trained the model.

    Args:
        dataset: str, a `keras_gahb.data.get_images` name. Default "faces".
        dataset_options: dict of dataset options (e.g. {"alpha": 2.0}). Default {}.
        n: int, training images N (in each of S1 and S2). Default 40.
        split: "s1" or "s2", the training set to use. Default "s1".
        test_size: int, held-out test images; None = 512, or what is left of a
            small fixed pool (100 faces) after S1 and S2. Default None.
        image_size: int, image side. Default 32.
        channels: int, 1 (gray) or 3. Default 1.
        preset: str, a `keras_gahb.models` preset. Default "unet_small".
        model_overrides: dict of constructor overrides of the preset. Default {}.
        epochs: int. Default 20.
        batch_size: int, global batch size (split across devices). Default 16.
        images_per_epoch: int, tile the training set to this many images per
            epoch (paper: 250,000, so every N takes the same steps); None = one
            pass over the N images. Default None.
        recipe: "paper" or "cpu" (`RECIPES`). Default "paper".
        sigma_distribution: None (the recipe's), "quadratic" (sigma = U^2 sigma_max,
            the paper's), "uniform", "log_uniform", "mixture" (half quadratic, half
            log-uniform) or a fixed float. The key `noise` of older configs means
            this. Default None.
        sigma_min: None (0.005 for "log_uniform" and "mixture", else 0) or the
            smallest training noise level. Default None.
        loss_weight: None (the recipe's) or one of `LOSS_WEIGHTS`: "none",
            "inverse_sqrt_sigma", "inverse_sigma", "inverse_variance", "edm"
            (`keras_gahb.data.loss_weights`). Default None.
        sigma_data: EDM's sigma_data (loss_weight="edm"). Default 0.25.
        sigma_max: float, largest training noise level. Default 1.0.
        lr: float, peak Adam learning rate. Default 1e-3.
        schedule: "cosine" (decay to 0 over the run: two runs agree closely),
            "paper" (halve every `halve_every` epochs) or "constant". Default "cosine".
        halve_every: int, epochs between halvings for schedule="paper" (paper: 100). Default 100.
        warmup_steps: int, linear learning-rate warm-up from 0 over this many steps
            (schedule="cosine" only). Default 0.
        ema: bool, keep an exponential moving average of the weights and use it
            for evaluation and the saved models. Default True.
        ema_momentum: float in [0, 1), or None = `auto_ema_momentum(total steps)`. Default None.
        precision: "float32", "mixed_bfloat16" or "mixed_float16". Default "float32".
        strategy: None, or "mirrored", "multi_worker", "tpu" (TensorFlow) or
            "data_parallel" (JAX). Default None.
        sync_batch_norm: bool, batch-norm statistics of the global batch under a
            tf.distribute strategy (`BiasFreeBatchNormalization(synchronized=True)`):
            a run on k replicas then trains like one device on the whole batch.
            Per-replica statistics (False) save one all-reduce per batch-norm
            layer. No effect without a strategy, nor on JAX (always global).
            Default False.
        seed: int: image pool, split, initial weights and noise. Default 0.
        eval_sigmas: list of noise levels of the PSNR curves (must hold 0.1).
            Default [0.02, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0].
        eval_train_size: int, training images in the fixed PSNR subset. Default 64.
        eval_every: int, evaluate PSNR every this many epochs (and at the end). Default 1.
        grid_images: int, images in the denoised-example grid (0 = none). Default 8.
        grid_sigma: float, noise level of the grid. Default 0.2.
        tensorboard: bool, write TensorBoard logs (scalars and images) to logs/; needs
            the `tensorboard` package (`pip install tensorboard`). Default False.
        jit_compile: "auto", True or False, passed to `model.compile`. Default "auto".

    Example:

    >>> config = keras_gahb.training.TrainConfig(n=100, epochs=5)
    >>> config.to_dict()["n"]
    100
    """

    dataset: str = "faces"
    dataset_options: dict = dataclasses.field(default_factory=dict)
    n: int = 40
    split: str = "s1"
    test_size: object = None
    image_size: int = 32
    channels: int = 1
    preset: str = "unet_small"
    model_overrides: dict = dataclasses.field(default_factory=dict)
    epochs: int = 20
    batch_size: int = 16
    images_per_epoch: object = None
    recipe: str = "paper"
    sigma_distribution: object = None
    sigma_min: object = None
    loss_weight: object = None
    sigma_data: float = 0.25
    sigma_max: float = 1.0
    lr: float = 1e-3
    schedule: str = "cosine"
    halve_every: int = 100
    warmup_steps: int = 0
    ema: bool = True
    ema_momentum: object = None
    precision: str = "float32"
    strategy: object = None
    sync_batch_norm: bool = False
    seed: int = 0
    eval_sigmas: list = dataclasses.field(
        default_factory=lambda: [0.02, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0]
    )
    eval_train_size: int = 64
    eval_every: int = 1
    grid_images: int = 8
    grid_sigma: float = 0.2
    tensorboard: bool = False
    jit_compile: object = "auto"

    def __post_init__(self):
        self.dataset = _choice_or_str(self.dataset, "dataset")
        self.dataset_options = _dict(self.dataset_options, "dataset_options")
        self.n = _int(self.n, "n", 1)
        self.split = _choice(self.split, "split", SPLITS)
        if self.test_size is None:
            limit = _POOL_LIMITS.get(self.dataset)
            self.test_size = 512 if limit is None else max(limit - 2 * self.n, 1)
        self.test_size = _int(self.test_size, "test_size", 1)
        self.image_size = _int(self.image_size, "image_size", 1)
        self.channels = _int(self.channels, "channels", 1)
        self.preset = _choice_or_str(self.preset, "preset")
        self.model_overrides = _dict(self.model_overrides, "model_overrides")
        self.epochs = _int(self.epochs, "epochs", 1)
        self.batch_size = _int(self.batch_size, "batch_size", 1)
        if self.images_per_epoch is not None:
            self.images_per_epoch = _int(self.images_per_epoch, "images_per_epoch", 1)
        self.sigma_max = _float(self.sigma_max, "sigma_max", 0.0, strict=True)
        self._resolve_recipe()
        self.lr = _float(self.lr, "lr", 0.0, strict=True)
        self.schedule = _choice(self.schedule, "schedule", SCHEDULES)
        self.halve_every = _int(self.halve_every, "halve_every", 1)
        self.warmup_steps = _int(self.warmup_steps, "warmup_steps", 0)
        if self.warmup_steps and self.schedule != "cosine":
            raise ValueError(f"warmup_steps needs schedule='cosine', got {self.schedule!r}.")
        self.ema = _bool(self.ema, "ema")
        if self.ema_momentum is not None:
            self.ema_momentum = _float(self.ema_momentum, "ema_momentum", 0.0)
            if self.ema_momentum >= 1.0:
                raise ValueError(f"ema_momentum must be in [0, 1), got {self.ema_momentum}.")
        self.precision = _choice(self.precision, "precision", PRECISIONS)
        if self.strategy in ("none", "None", ""):
            self.strategy = None
        if self.strategy is not None:
            self.strategy = _choice(self.strategy, "strategy", STRATEGIES)
        self.sync_batch_norm = _bool(self.sync_batch_norm, "sync_batch_norm")
        self.seed = _int(self.seed, "seed", 0)
        sigmas = self.eval_sigmas
        if isinstance(sigmas, (str, bytes)) or not hasattr(sigmas, "__iter__"):
            raise ValueError(f"eval_sigmas must be a list of numbers, got {sigmas!r}.")
        sigmas = [_float(s, "eval_sigmas", 0.0, strict=True) for s in sigmas]
        if not sigmas:
            raise ValueError("eval_sigmas must hold at least one noise level.")
        self.eval_sigmas = sorted(set(sigmas))
        self.eval_train_size = _int(self.eval_train_size, "eval_train_size", 1)
        self.eval_every = _int(self.eval_every, "eval_every", 1)
        self.grid_images = _int(self.grid_images, "grid_images", 0)
        self.grid_sigma = _float(self.grid_sigma, "grid_sigma", 0.0)
        self.tensorboard = _bool(self.tensorboard, "tensorboard")
        if self.jit_compile != "auto":
            self.jit_compile = _bool(self.jit_compile, "jit_compile")

    def _resolve_recipe(self):
        """Fill sigma_distribution, sigma_min and loss_weight from `recipe` where not given."""
        self.recipe = _choice(self.recipe, "recipe", tuple(RECIPES))
        base = RECIPES[self.recipe]
        sigma = base["sigma_distribution"] if self.sigma_distribution is None \
            else self.sigma_distribution
        if isinstance(sigma, numbers.Number) and not isinstance(sigma, bool):
            sigma = _float(sigma, "sigma_distribution", 0.0)
        else:
            sigma = _choice(sigma, "sigma_distribution", NOISES)
        self.sigma_distribution = sigma
        if self.sigma_min is None:
            self.sigma_min = LOG_SIGMA_MIN if sigma in ("log_uniform", "mixture") else 0.0
        self.sigma_min = _float(self.sigma_min, "sigma_min", 0.0)
        if sigma in ("log_uniform", "mixture") and self.sigma_min <= 0:
            raise ValueError(f"sigma_distribution={sigma!r} needs sigma_min > 0, got "
                             f"{self.sigma_min}.")
        if isinstance(sigma, str) and self.sigma_min >= self.sigma_max:
            raise ValueError(f"sigma_min ({self.sigma_min}) must be below sigma_max "
                             f"({self.sigma_max}).")
        self.loss_weight = _choice(base["loss_weight"] if self.loss_weight is None
                                   else self.loss_weight, "loss_weight", LOSS_WEIGHTS)
        self.sigma_data = _float(self.sigma_data, "sigma_data", 0.0, strict=True)

    def recipe_label(self):
        """The recipe in words, e.g. "cpu (log_uniform sigma in [0.005, 1], loss weight inverse_sigma)"."""
        base = RECIPES[self.recipe]
        own = {"sigma_distribution": self.sigma_distribution, "sigma_min": self.sigma_min,
               "loss_weight": self.loss_weight}
        changed = [key for key in own if own[key] != base[key]
                   and not (key == "sigma_min" and not isinstance(self.sigma_distribution, str))]
        sigma = self.sigma_distribution
        noise = (f"sigma = {sigma:g}" if not isinstance(sigma, str) else
                 f"{sigma} sigma in [{self.sigma_min:g}, {self.sigma_max:g}]")
        weight = self.loss_weight + (f", sigma_data {self.sigma_data:g}"
                                     if self.loss_weight == "edm" else "")
        name = self.recipe + (f" with {', '.join(changed)} changed" if changed else "")
        return f"{name} ({noise}, loss weight {weight})"

    @classmethod
    def keys(cls):
        """The valid option names (config-file keys), in order."""
        return [field.name for field in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, options):
        """Build from a dict; unknown keys raise a ValueError that lists the valid ones."""
        options = legacy_options(options)
        unknown = sorted(set(options) - set(cls.keys()))
        if unknown:
            raise ValueError(
                f"Unknown training option(s): {', '.join(unknown)}. Valid options: "
                f"{', '.join(cls.keys())}."
            )
        return cls(**options)

    def to_dict(self):
        """A JSON-ready dict of every option."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def defaults(cls):
        """{option: default value} (what a config.json written before an option existed means).

        The recipe's parts are given resolved (the paper's recipe: what every run
        trained with before recipes existed).
        """
        values = {field.name: field.default_factory() if field.default is dataclasses.MISSING
                  else field.default for field in dataclasses.fields(cls)}
        values.update(RECIPES[values["recipe"]])
        return values

    @property
    def pool_size(self):
        """Images drawn from the dataset: S1 + S2 + test."""
        return 2 * self.n + self.test_size


def legacy_options(options):
    """Option names with dashes as underscores, and `noise` (older configs) as `sigma_distribution`."""
    options = {str(key).replace("-", "_"): value for key, value in dict(options).items()}
    if "noise" in options:
        if options.get("sigma_distribution") is not None:
            raise ValueError("Give sigma_distribution or its older name noise, not both.")
        options["sigma_distribution"] = options.pop("noise")
    return options


def load_config_file(path, allowed_extra=()):
    """Read a TOML (.toml) or JSON (.json) file of training options into a dict.

    Keys are the option names of `TrainConfig` (dashes or underscores), plus
    `allowed_extra` (e.g. "out" for `gahb train`); any other key raises a
    ValueError that lists the valid ones.

    Example:

    >>> keras_gahb.training.load_config_file("run.toml")
    {'dataset': 'faces', 'epochs': 5}
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Config file not found: {path}")
    extension = os.path.splitext(path)[1].lower()
    try:
        if extension == ".toml":
            if sys.version_info >= (3, 11):
                import tomllib
            else:
                import tomli as tomllib
            with open(path, "rb") as f:
                options = tomllib.load(f)
        elif extension == ".json":
            with open(path, encoding="utf-8") as f:
                options = json.load(f)
        else:
            raise ValueError(
                f"Config file {path} must end in .toml or .json, got '{extension or 'none'}'."
            )
    except (ValueError, UnicodeDecodeError) as error:
        if "must end in" in str(error):
            raise
        raise ValueError(f"Cannot parse config file {path}: {error}") from None
    if not isinstance(options, dict):
        raise ValueError(f"Config file {path} must hold a table/object of options.")
    options = legacy_options(options)
    valid = TrainConfig.keys() + list(allowed_extra)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ValueError(
            f"Unknown key(s) in {path}: {', '.join(unknown)}. Valid keys: {', '.join(valid)}."
        )
    return options


def _int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be an integer, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def _float(value, name, minimum, strict=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}.")
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be finite, got {value}.")
    if value < minimum or (strict and value == minimum):
        relation = ">" if strict else ">="
        raise ValueError(f"{name} must be {relation} {minimum}, got {value}.")
    return value


def _bool(value, name):
    if not isinstance(value, bool):
        raise ValueError(
            f"{name} must be true or false (a boolean, not a string), got {value!r}."
        )
    return value


def _choice(value, name, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}.")
    return value


def _choice_or_str(value, name):
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}.")
    return value


def _dict(value, name):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a table/dict of options, got {value!r}.")
    return dict(value)
