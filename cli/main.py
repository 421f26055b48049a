"""The `gahb` console script: one Click group, one module per command.

Keras reads KERAS_BACKEND when it is first imported, so commands import
keras_gahb inside their bodies, after `--backend` has been applied; this also
keeps `gahb --help` fast.
"""

import contextlib
import importlib
import importlib.abc
import importlib.metadata
import importlib.util
import os
import pkgutil
import re
import sys
import warnings

import click

import cli

_NOT_COMMANDS = {"main", "common"}


def _version():
    try:
        return importlib.metadata.version("keras_gahb")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


class GahbGroup(click.Group):
    """A Click group that turns user errors into one line on stderr and exit 1."""

    def invoke(self, ctx):
        try:
            with warnings.catch_warnings():
                if not os.environ.get("GAHB_DEBUG"):
                    warnings.showwarning = _show_warning
                return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo(
                "Interrupted. Finished work is saved; run the same command again to resume.",
                err=True,
            )
            sys.exit(130)
        except (ValueError, TypeError, KeyError, OSError, ImportError, RuntimeError) as error:
            if os.environ.get("GAHB_DEBUG"):
                raise
            message = _one_line(error)
            if isinstance(error, KeyError):
                message = f"missing key {message}"
            raise click.ClickException(message) from None
        except Exception as error:  # a bug or an unforeseen failure: still one line
            if os.environ.get("GAHB_DEBUG"):
                raise
            raise click.ClickException(
                f"{type(error).__name__}: {_one_line(error)} (unexpected error; set "
                "GAHB_DEBUG=1 to see the full traceback)"
            ) from None


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Print a warning as one line on stderr (`Warning: ...`), without the source line."""
    prefix = "" if category is UserWarning else f"{category.__name__}: "
    click.echo(f"Warning: {prefix}{_one_line(message)}", err=True)


def _one_line(error):
    """The first informative line of an error's message (its type's name when there is none).

    Skips Keras' "Exception encountered when calling ..." header and terminal colour codes.
    """
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("Exception encountered when calling"):
        lines = lines[1:]
    if not lines:
        return type(error).__name__
    return lines[0] + (" [...] (set GAHB_DEBUG=1 for the full message)" if len(lines) > 1 else "")


@click.group(cls=GahbGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "--version", prog_name="gahb")
@click.option(
    "--backend",
    type=click.Choice(["tensorflow", "jax", "torch"]),
    default=None,
    help="Keras backend (default: $KERAS_BACKEND, else tensorflow).",
)
def gahb(backend):
    """Bias-free denoisers, implicit-prior sampling and GAHB analysis (Kadkhodaie et al. 2024).

    Set GAHB_DEBUG=1 to see full tracebacks and TensorFlow's start-up messages.
    """
    if backend:
        if "keras" in sys.modules and os.environ.get("KERAS_BACKEND", "tensorflow") != backend:
            raise click.UsageError("--backend must be set before Keras is imported.")
        os.environ["KERAS_BACKEND"] = backend
    quiet_tensorflow()


def quiet_tensorflow():
    """Hide TensorFlow's C++ start-up noise (cuInit errors, absl warnings) unless asked for.

    Sets TF_CPP_MIN_LOG_LEVEL=3 unless the user set it, and silences the native stderr while
    `tensorflow` is first imported (its pre-absl-initialization lines ignore that variable).
    Python errors still surface (they are printed after the import). With GAHB_DEBUG=1
    nothing is hidden. Must run before TensorFlow is imported.
    """
    if os.environ.get("GAHB_DEBUG") or "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if "tensorflow" not in sys.modules and not any(
        isinstance(finder, _QuietImport) for finder in sys.meta_path
    ):
        sys.meta_path.insert(0, _QuietImport("tensorflow"))


class _QuietImport(importlib.abc.MetaPathFinder):
    """Runs the first import of one top-level module with file descriptor 2 sent to /dev/null.

    Stays on sys.meta_path until the module is executed: a mere probe such as torch._dynamo's
    `importlib.util.find_spec("tensorflow")` gets a spec but must not use the finder up (it did,
    and TensorFlow's start-up lines then reached the user under the torch backend).
    """

    def __init__(self, name):
        self.name = name
        self._finding = False

    def find_spec(self, name, path=None, target=None):
        if name != self.name or self._finding:
            return None
        self._finding = True  # the find_spec below must not find us again
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._finding = False
        if spec is not None and spec.loader is not None:
            exec_module = spec.loader.exec_module

            def quiet_exec_module(module):
                if self in sys.meta_path:
                    sys.meta_path.remove(self)  # once: the module is being imported now
                with _native_stderr_silenced():
                    exec_module(module)

            spec.loader.exec_module = quiet_exec_module
        return spec


@contextlib.contextmanager
def _native_stderr_silenced():
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def _register_commands(group):
    """Add the `command` object of every module in the cli package."""
    for info in sorted(pkgutil.iter_modules(cli.__path__), key=lambda m: m.name):
        if info.name in _NOT_COMMANDS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"cli.{info.name}")
        group.add_command(module.command)


_register_commands(gahb)


def main():
    gahb(prog_name="gahb")


if __name__ == "__main__":
    main()
