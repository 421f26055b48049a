"""What `keras_gahb.training.train` returns: paths and final metrics of a run."""

import dataclasses
import os


@dataclasses.dataclass
class TrainResult:
    """Paths and metrics of a finished training run.

    Attributes:
        run_dir: the run directory.
        model_path: `model.keras`, the model after the last epoch (EMA weights
            when EMA is on).
        best_model_path: `model_best.keras`, the epoch with the highest mean test PSNR.
        epochs_completed: epochs trained in total (over all resumptions).
        history: one dict per epoch (the rows of history.csv).
        metrics: final metrics: `loss`, `{train,test}_psnr_s{sigma}`,
            `{train,test}_input_psnr_s{sigma}`, `test_gain_s{sigma}` (output
            minus input PSNR, dB), `images_per_second`.
        best: {"epoch": ..., "test_psnr_mean": ...} of the best model.
        psnr_curves: the content of psnr_curves.json.
        resumed: True if this call continued an interrupted run.
        already_finished: True if the run directory held this finished run
            and nothing was trained.
        replicas: devices each batch was split over (strategy).

    Example:

    >>> result = keras_gahb.training.train("runs/faces", epochs=2)
    >>> result.metrics["test_gain_s0.1"]
    >>> model = result.load_model()
    """

    run_dir: str
    model_path: str
    best_model_path: str
    epochs_completed: int
    history: list
    metrics: dict
    best: dict
    psnr_curves: dict
    resumed: bool = False
    already_finished: bool = False
    replicas: int = 1

    def load_model(self, best=False):
        """Load model.keras (or model_best.keras) of this run."""
        import keras

        import keras_gahb.models  # noqa: F401  (registers the denoiser classes)

        path = self.best_model_path if best else self.model_path
        if not os.path.exists(path):
            raise FileNotFoundError(f"No model at {path}.")
        return keras.saving.load_model(path)

    def summary(self):
        """A few lines: epochs, loss, test PSNR gain at each noise level."""
        lines = [f"{self.run_dir}: {self.epochs_completed} epochs"
                 + (" (already finished)" if self.already_finished else "")
                 + (" (resumed)" if self.resumed else "")]
        if "loss" in self.metrics:
            lines.append(f"final loss {self.metrics['loss']:.6f}")
        gains = {k[len("test_gain_"):]: v for k, v in self.metrics.items()
                 if k.startswith("test_gain_")}
        if gains:
            lines.append("test PSNR gain (output - input, dB): "
                         + ", ".join(f"sigma={k[1:]}: {v:+.2f}" for k, v in gains.items()))
        if self.best:
            lines.append(f"best epoch {self.best['epoch']} "
                         f"(mean test PSNR {self.best['test_psnr_mean']:.2f} dB)")
        return "\n".join(lines)
