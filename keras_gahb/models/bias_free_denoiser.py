"""Base class of the bias-free denoisers: presets, input checks, serialization."""

import difflib
import inspect

import keras

from keras_gahb.models import presets as preset_table


class BiasFreeDenoiser(keras.Model):
    """A functional Keras model mapping a noisy image to its denoised estimate.

    Subclasses build a functional graph in `__init__` and store their
    constructor arguments; this base class adds preset loading, a clear check
    of input shapes, and a `get_config` that returns constructor arguments.

    The output is the denoised image f(y) = y - net(y) (residual form), where
    `net` contains no additive constant, so f(a y) = a f(y) for a > 0 in
    inference mode.
    """

    #: Input height and width must be divisible by this (2**levels for a UNet).
    size_multiple = 1

    #: Keyword arguments passed on to `keras.Model` (everything else must be a
    #: constructor argument of the subclass).
    BASE_ARGUMENTS = ("name", "trainable")

    @classmethod
    def argument_names(cls):
        """The valid constructor arguments: the subclass's own, then `name`, `trainable`."""
        parameters = inspect.signature(cls.__init__).parameters.values()
        own = [p.name for p in parameters
               if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
        return own + [name for name in cls.BASE_ARGUMENTS if name not in own]

    @classmethod
    def check_arguments(cls, arguments):
        """Raise a ValueError naming any key of `arguments` the constructor does not take."""
        valid = cls.argument_names()
        unknown = [str(key) for key in arguments if key not in valid]
        if unknown:
            hints = [f"{key}: did you mean {close[0]}?" for key in unknown
                     for close in [difflib.get_close_matches(key, valid, n=1)] if close]
            raise ValueError(
                f"{cls.__name__} got unknown argument(s) {', '.join(unknown)}"
                f"{' (' + ', '.join(hints) + ')' if hints else ''}. "
                f"Valid arguments: {', '.join(valid)}."
            )

    @classmethod
    def size_multiple_of(cls, config):
        """What image sides must be divisible by for a model built from `config`."""
        return 1

    @classmethod
    def presets(cls):
        """The presets this class can build, as {name: description}."""
        return {
            name: spec["description"]
            for name, spec in preset_table.PRESETS.items()
            if spec["class"] == cls.__name__
        }

    @classmethod
    def from_preset(cls, name, **overrides):
        """Build a preset, e.g. `BiasFreeUNet.from_preset("unet_rf90")`.

        Args:
            name: str, a preset name (see `presets()`).
            **overrides: constructor arguments that replace the preset's
                (e.g. `image_channels=3`, `image_size=40`, `dtype`).
        """
        spec = preset_table.get_preset(name)
        if spec["class"] != cls.__name__:
            raise ValueError(
                f"Preset '{name}' builds a {spec['class']}, not a {cls.__name__}. "
                f"Use keras_gahb.models.{spec['class']}.from_preset('{name}') or "
                f"keras_gahb.models.from_preset('{name}'). Presets of "
                f"{cls.__name__}: {', '.join(sorted(cls.presets()))}."
            )
        config = dict(spec["config"])
        config.update(overrides)
        return cls(**config)

    def __call__(self, *args, **kwargs):
        # Checked here, before Keras wraps errors of `call` in a message that
        # repeats the whole input array.
        inputs = args[0] if args else kwargs.get("inputs")
        shape = getattr(inputs, "shape", None)
        if shape is not None:
            check_image_shape(shape, self.image_channels, self.size_multiple, self.name)
        return super().__call__(*args, **kwargs)

    def call(self, inputs, training=None, mask=None):
        check_image_shape(inputs.shape, self.image_channels, self.size_multiple, self.name)
        return super().call(inputs, training=training, mask=mask)

    def get_config(self):
        """Constructor arguments; subclasses return `{**super().get_config(), ...}` (KerasHub)."""
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def image_size_pair(image_size):
    """(height, width) of an `image_size` argument: None (any size), an int, or a pair."""
    if image_size is None:
        return None, None
    if isinstance(image_size, int):
        return image_size, image_size
    height, width = image_size
    return height, width


def check_image_size(image_size, size_multiple, name="model"):
    """Raise a ValueError (one sentence) if a side of `image_size` is not divisible by `size_multiple`.

    Args:
        image_size: int, or (height, width); None passes.
        size_multiple: int, e.g. 2**levels of a UNet.
        name: what needs the size, for the message (e.g. "preset 'unet_rf90'").
    """
    sides = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size or ())
    for side in sides:
        if side is not None and int(side) % size_multiple:
            side = int(side)
            lower = side - side % size_multiple
            options = " or ".join(str(v) for v in (lower, lower + size_multiple) if v > 0)
            raise ValueError(
                f"Image size {side} does not fit {name}: its sides must be divisible by "
                f"{size_multiple} (2**levels); use {options}."
            )


def check_image_shape(shape, channels, size_multiple, name="model"):
    """Raise a ValueError naming the problem if `shape` is not (batch, H, W, channels)."""
    shape = tuple(shape)
    if len(shape) != 4:
        raise ValueError(
            f"{name} expects a batch of images of shape (batch, height, width, "
            f"{channels}); got shape {shape} ({len(shape)} dimensions). Add a batch "
            "axis with x[None] or a channel axis with x[..., None]."
        )
    if shape[-1] is not None and shape[-1] != channels:
        raise ValueError(
            f"{name} was built for {channels} image channel(s); got an input with "
            f"{shape[-1]} channel(s), shape {shape}."
        )
    for axis, size in (("height", shape[1]), ("width", shape[2])):
        if size is not None and size % size_multiple:
            raise ValueError(
                f"{name} needs input {axis} divisible by {size_multiple} "
                f"(2**levels); got {size} in shape {shape}. Crop or resize to a "
                f"multiple of {size_multiple}, e.g. {size - size % size_multiple or size_multiple}."
            )
