"""`gahb analyze`: Jacobian eigen-analysis, PSNR curves, MSE slopes and sample similarity."""

import os

import click


def _floats(text):
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got '{text}'") from None


#: `gahb analyze psnr`'s noise levels for a model outside a reproduction.
DEFAULT_SIGMAS = (0.02, 0.05, 0.1, 0.2, 0.4)


def _report_note(model, settings, keys=None):
    """Print which `settings` differ from the report of the reproduction holding `model`.

    `keys` maps an option's name to the report's name for it (default: the same).
    """
    from keras_gahb.experiments import report_analysis
    from keras_gahb.experiments.report_settings import differences_from_report

    report = report_analysis(model)
    if report is not None:
        keys = keys or {}
        expected = {name: report.get(keys.get(name, name)) for name in settings}
        note = differences_from_report(settings, {**expected, "config": report["config"]})
        if note:
            click.echo(note)
    return report


@click.group("analyze")
def command():
    """Analyze denoisers: GAHB eigenbases, generalization measures (JSON + PNG)."""


@command.command("jacobian")
@click.argument("model")
@click.option("--image", required=True, help="Image file (.png/.npy/.npz) or dataset name (with --size).")
@click.option("--sigma", required=True, type=click.FloatRange(min=0), help="Noise level of y = x + sigma z.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for eigen.json, eigen.npz, fig2.png.")
@click.option("--method", type=click.Choice(["full", "block", "lanczos"]), default="full",
              show_default=True, help="Full Jacobian + eigh, or top-k eigenpairs matrix-free.")
@click.option("--top-k", default=64, show_default=True, type=click.IntRange(min=1),
              help="Eigenpairs for the matrix-free methods.")
@click.option("--size", default=None, type=click.IntRange(min=1), help="Image side for a dataset name.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Noise seed.")
@click.option("--chunk-size", default=None, type=click.IntRange(min=1),
              help="Jacobian rows per reverse pass (default: from --max-memory-gb).")
@click.option("--max-memory-gb", default=4.0, show_default=True, type=click.FloatRange(min=0.01))
@click.option("--quiet", is_flag=True, help="No progress bar.")
def jacobian(model, image, sigma, out_dir, method, top_k, size, seed, chunk_size, max_memory_gb, quiet):
    """Eigenvalues/eigenvectors of the Jacobian of MODEL (.keras, run folder or preset) at a noisy image.

    Example: gahb analyze jacobian model.keras --image face.npy --sigma 0.15 --out eig/
    """
    from keras_gahb.analysis import analyze_jacobian

    _report_note(model, {"sigma": sigma}, {"sigma": "jacobian_sigma"})
    s = analyze_jacobian(out_dir, model, image, sigma, seed=seed, method=method, top_k=top_k,
                         chunk_size=chunk_size, max_memory_gb=max_memory_gb, size=size,
                         verbose=0 if quiet else 1)
    top = ", ".join(f"{v:.3f}" for v in s["top_eigenvalues"][:6])
    click.echo(f"PSNR {s['input_psnr']:.2f} -> {s['output_psnr']:.2f} dB; tr J = "
               f"{s['effective_dimensionality']:.2f}; top eigenvalues {top}")
    if s.get("bias_free_error") is not None:
        click.echo(f"checks: ||f(y) - J y||/||f(y)|| = {s['bias_free_error']:.2e}, "
                   f"||J - J^T||/||J|| = {s['asymmetry']:.3f}")
    if s.get("sure_mse") is not None:
        click.echo(f"SURE of the MSE {s['sure_mse']:.3g} per pixel (sigma^2 tr J / D = "
                   f"{s['optimal_mse_identity']:.3g}, the MSE of the optimal denoiser only)")
    click.echo(f"Wrote {os.path.join(out_dir, '')}")


@command.command("psnr")
@click.argument("models", nargs=-1, required=True)
@click.option("--train", default=None, help="Training images (file or dataset name).")
@click.option("--test", default=None, help="Test images (file or dataset name).")
@click.option("--label", "labels", multiple=True,
              help="One label per model (e.g. N); default: its run folder's name.")
@click.option("--sigmas", default=None,
              help="Noise levels (default: the report's eval_sigmas for a model of a `gahb "
                   "reproduce` run, else 0.02,0.05,0.1,0.2,0.4).")
@click.option("--num", default=64, show_default=True, type=click.IntRange(min=1), help="Images per split.")
@click.option("--size", default=None, type=click.IntRange(min=1), help="Image side for dataset names.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for psnr.json and psnr.png.")
def psnr(models, train, test, labels, sigmas, num, size, seed, out_dir):
    """Output PSNR vs input PSNR on train and test images for each MODEL (Fig 1 curves)."""
    from keras_gahb.analysis import analyze_psnr

    from keras_gahb.models import model_title

    if labels and len(labels) != len(models):
        raise click.BadParameter(f"got {len(labels)} --label for {len(models)} models")
    titles = [model_title(m) for m in models]
    if not labels:  # the run folders' names, unless two models share one
        labels = titles if len(set(titles)) == len(titles) else [str(i) for i in range(len(models))]
    named = dict(zip(labels, models))
    report = _report_note(models[0], {} if sigmas is None else {"sigmas": _floats(sigmas)},
                          {"sigmas": "psnr_sigmas"})
    if sigmas is None:
        sigmas = ",".join(f"{v:g}" for v in (report or {}).get("psnr_sigmas") or DEFAULT_SIGMAS)
    results = analyze_psnr(out_dir, named, train=train, test=test, sigmas=_floats(sigmas), num=num,
                           size=size, seed=seed)
    first = next(iter(results.values()))
    curve = first.get("train") or first["test"]
    rows = [("sigma", [f"{v:g}" for v in curve["sigmas"]]),
            ("input PSNR (dB)", [f"{v:.2f}" for v in curve["input_psnr"]])]
    for label, entry in results.items():
        for split in ("train", "test"):
            if split in entry:
                rows.append((f"{label} {split} (dB)",
                             [f"{v:.2f}" for v in entry[split]["output_psnr"]]))
    width = max(len(name) for name, _ in rows)
    for name, values in rows:
        click.echo(f"{name:<{width}}  " + " ".join(f"{v:>7}" for v in values))
    click.echo(f"Wrote {os.path.join(out_dir, '')}")


@command.command("slope")
@click.argument("model")
@click.option("--images", required=True, help="Images (file or dataset name).")
@click.option("--sigma-min", default=0.01, show_default=True, type=float)
@click.option("--sigma-max", default=0.2, show_default=True, type=float)
@click.option("--num-sigmas", default=8, show_default=True, type=click.IntRange(min=3))
@click.option("--num", default=64, show_default=True, type=click.IntRange(min=1))
@click.option("--size", default=None, type=click.IntRange(min=1), help="Image side for dataset names.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for slope.json and slope.png.")
def slope(model, images, sigma_min, sigma_max, num_sigmas, num, size, seed, out_dir):
    """Slope of log MSE vs log sigma^2 (with a 95% bootstrap interval) of MODEL on images."""
    from keras_gahb.analysis import analyze_slope

    report = _report_note(model, {})
    if report and report["slope_sigmas"] and (
            sigma_min, sigma_max) != (min(report["slope_sigmas"]), max(report["slope_sigmas"])):
        click.echo(f"Differs from the report ({report['config']}): sigma in [{sigma_min:g}, "
                   f"{sigma_max:g}] (report: {', '.join(f'{v:g}' for v in report['slope_sigmas'])})")
    s = analyze_slope(out_dir, model, images, sigma_min=sigma_min, sigma_max=sigma_max,
                      num_sigmas=num_sigmas, num=num, size=size, seed=seed)
    click.echo(f"slope {s['slope']:.3f} [{s['ci_low']:.3f}, {s['ci_high']:.3f}] over sigma in "
               f"[{s['sigma_min']:g}, {s['sigma_max']:g}], {s['num_images']} images")
    click.echo("oracle projection risk on the same images: slope "
               + ", ".join(f"{name.upper() if name == 'dct' else name.title()} {o['slope']:.3f}"
                           for name, o in s["oracle"].items()))
    click.echo(f"Wrote {os.path.join(out_dir, '')}")


@command.command("similarity")
@click.argument("samples", type=click.Path(dir_okay=False))
@click.option("--train", required=True, help="Training images of the model (file or dataset name).")
@click.option("--compare", default=None, type=click.Path(dir_okay=False),
              help="Samples of a second model from the same seeds.")
@click.option("--metric", type=click.Choice(["correlation", "cosine", "l2"]), default="correlation",
              show_default=True, help="How the closest training image is chosen.")
@click.option("--size", default=None, type=click.IntRange(min=1))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for similarity.json, similarity.png, nearest.png.")
def similarity(samples, train, compare, metric, size, out_dir):
    """Closest training images, sample correlations and memorization ratio of SAMPLES (.npz/.npy)."""
    from keras_gahb.analysis import analyze_similarity

    s = analyze_similarity(out_dir, samples, train, compare=compare, metric=metric, size=size)
    click.echo(f"{s['num_samples']} samples vs {s['num_train']} training images: mean {metric} to "
               f"closest {s['mean_nearest_similarity']:.4f}")
    if "memorization_ratio" in s:
        click.echo(f"memorization ratio (d1 < d2 / 3): {s['memorization_ratio']:.3f}")
    if "mean_correlation_between_models" in s:
        # Plain cosine is near 1 for any two images with a common positive mean; the
        # correlation (cosine of the mean-removed images) is what separates models.
        click.echo(f"mean correlation between the two models' samples: "
                   f"{s['mean_correlation_between_models']:.4f} (plain cosine "
                   f"{s['mean_cosine_between_models']:.4f})")
    click.echo(f"Wrote {os.path.join(out_dir, '')}")


from cli._beyond import register as _register_beyond  # noqa: E402

_register_beyond(command)
