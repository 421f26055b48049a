"""`gahb analyze references | dynamics | branching | dimension`: instruments beyond the paper.

Registered on the `analyze` group by cli/analyze.py (`register(command)`).
"""

import json

import click


def _floats(text):
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got '{text}'") from None


def _ints(text):
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got '{text}'") from None


def _names(text):
    return [v.strip() for v in text.split(",") if v.strip()]


def _json(text):
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"expected JSON, got '{text}' ({error.msg})") from None
    if not isinstance(value, dict):
        raise click.BadParameter("expected a JSON object")
    return value


@click.command("references")
@click.argument("model")
@click.option("--train", required=True, help="The model's training images (file or dataset name).")
@click.option("--images", required=True, help="Evaluation images (file or dataset name).")
@click.option("--references", "references", default="empirical,wiener,gmm,smoothed,els,pca_local",
              show_default=True, help="Comma-separated reference denoisers.")
@click.option("--options", default=None, help='Per-reference arguments as JSON, e.g. \'{"els": {"patch_size": 5}}\'.')
@click.option("--sigmas", default="0.02,0.05,0.1,0.2,0.4", show_default=True, help="Noise levels.")
@click.option("--num", default=32, show_default=True, type=click.IntRange(min=1), help="Evaluation images.")
@click.option("--num-train", default=None, type=click.IntRange(min=1), help="Training images (dataset names).")
@click.option("--size", default=None, type=click.IntRange(min=1), help="Image side for dataset names.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for references.json and references.png.")
def references(model, train, images, references, options, sigmas, num, num_train, size, seed, out_dir):
    """MSE of MODEL and of closed-form reference denoisers, and r^2 between them, per sigma.

    Example: gahb analyze references model.keras --train train.npy --images test.npy --out refs/
    """
    from keras_gahb.analysis.beyond_run import analyze_references

    s = analyze_references(out_dir, model, train, images, sigmas=_floats(sigmas),
                           references=_names(references), num=num, num_train=num_train, size=size,
                           seed=seed, options=_json(options))
    for j, sigma in enumerate(s["sigmas"]):
        parts = ", ".join(f"{n} {e['r2'][j]:.3f}" for n, e in s["references"].items())
        click.echo(f"sigma {sigma:g}: network MSE {s['network_mse'][j]:.2e}; r^2 {parts}; "
                   f"closest {s['closest'][j]}")
    click.echo(f"Wrote {out_dir}/")


@click.command("dynamics")
@click.option("--data", required=True, help="Dataset name or image file (train = first N, test = last --num-test).")
@click.option("--ns", default="4,8,16,32", show_default=True, help="Training-set sizes.")
@click.option("--size", default=16, show_default=True, type=click.IntRange(min=4))
@click.option("--num-test", default=16, show_default=True, type=click.IntRange(min=1))
@click.option("--steps", default=2000, show_default=True, type=click.IntRange(min=1), help="Steps per model.")
@click.option("--every", default=100, show_default=True, type=click.IntRange(min=1), help="Evaluation interval.")
@click.option("--preset", default="unet_tiny", show_default=True)
@click.option("--batch-size", default=8, show_default=True, type=click.IntRange(min=1))
@click.option("--learning-rate", default=1e-3, show_default=True, type=click.FloatRange(min=0, min_open=True))
@click.option("--num-samples", default=8, show_default=True, type=click.IntRange(min=1))
@click.option("--stop-at-memorization/--no-stop-at-memorization", default=True, show_default=True,
              help="Stop each N's training once its memorization ratio exceeds 0.5 (--steps is a cap).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for dynamics.json and dynamics.png.")
def dynamics(data, ns, size, num_test, steps, every, preset, batch_size, learning_rate, num_samples,
             stop_at_memorization, seed, out_dir):
    """Memorization over training time per N: tau_gen, tau_mem and the fit tau_mem ~ N^b.

    Example: gahb analyze dynamics --data faces --size 16 --ns 4,8,16 --steps 1500 --out dyn/
    """
    from keras_gahb.experiments import analyze_dynamics

    s = analyze_dynamics(out_dir, data, ns=_ints(ns), size=size, num_test=num_test, steps=steps,
                         every=every, preset=preset, batch_size=batch_size,
                         learning_rate=learning_rate, num_samples=num_samples, seed=seed,
                         stop_at_memorization=stop_at_memorization, verbose=0)
    for n in s["ns"]:
        t = s["times"][str(n)]
        click.echo(f"N={n}: tau_gen {t['tau_gen']}, tau_mem {t['tau_mem']} (ratio {t['tau_mem_ratio']}, "
                   f"test-loss rise {t['tau_mem_loss']}), final memorization ratio "
                   f"{t['final_memorization_ratio']:.2f}")
    for key in ("fit_mem", "fit_gen"):
        fit = s[key]
        if fit is None:
            click.echo(f"{key}: fewer than 3 sizes reached the time; no fit")
        else:
            source = f" (tau_mem from the {fit['source']})" if "source" in fit else ""
            click.echo(f"{key}{source}: exponent {fit['exponent']:.2f}, 95% bootstrap [{fit['ci_low']:.2f}, "
                       f"{fit['ci_high']:.2f}], t [{fit['t_ci_low']:.2f}, {fit['t_ci_high']:.2f}]")
    click.echo(f"Wrote {out_dir}/")


@click.command("branching")
@click.argument("model")
@click.option("--size", required=True, type=click.IntRange(min=4), help="Image side.")
@click.option("--train", default=None, help="Training images (for reference:NAME models and nearest-image checks).")
@click.option("--num-train", default=None, type=click.IntRange(min=2), help="Training images (dataset names).")
@click.option("--compare", default=None,
              help="Second model: also measure agreement along MODEL's trajectory "
                   "(reference:empirical:FILE for the optimum of other images).")
@click.option("--num", default=4, show_default=True, type=click.IntRange(min=1), help="Trunk samples.")
@click.option("--branch-sigmas", default="0.5,0.2,0.1,0.05", show_default=True)
@click.option("--num-branches", default=4, show_default=True, type=click.IntRange(min=2))
@click.option("--h0", default=0.1, show_default=True, type=float)
@click.option("--beta", default=0.5, show_default=True, type=float)
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for branching.json/.png (and agreement.json/.png).")
def branching(model, size, train, num_train, compare, num, branch_sigmas, num_branches, h0, beta, seed,
              out_dir):
    """Where a sample's identity is decided: endpoint similarity of branches split at sigma_t.

    Example: gahb analyze branching reference:empirical --train faces --num-train 20 --size 16 --out br/
    """
    from keras_gahb.analysis.beyond_run import analyze_branching

    s = analyze_branching(out_dir, model, size, train=train, compare=compare, num=num,
                          num_train=num_train, branch_sigmas=_floats(branch_sigmas),
                          num_branches=num_branches, seed=seed,
                          sampler_options={"h0": h0, "beta": beta})
    same = s.get("same_nearest")
    for j, sigma in enumerate(s["branch_sigmas"]):
        extra = "" if same is None else f", same nearest training image {same[j]:.2f}"
        click.echo(f"branch at sigma {sigma:g}: endpoint correlation {s['similarity'][j]:.3f}{extra}")
    if "agreement" in s:
        a = s["agreement"]
        pairs = ", ".join(f"{x:.3g}: {y:.3g}" for x, y in zip(a["sigma"], a["relative_difference"]))
        click.echo(f"||f1 - f2||^2 / ||f1 - x||^2 by sigma_t: {pairs}")
    click.echo(f"Wrote {out_dir}/")


@click.command("dimension")
@click.argument("model")
@click.option("--image", required=True, help="Image file or dataset name (its first image).")
@click.option("--sigmas", default="0.01,0.02,0.05,0.1,0.2,0.4", show_default=True)
@click.option("--size", default=None, type=click.IntRange(min=4), help="Image side for dataset names.")
@click.option("--train", default=None,
              help="Training images (for reference:NAME and the Gaussian curve); 'local-discs' = discs "
                   "around the image's parameters.")
@click.option("--num-train", default=None, type=click.IntRange(min=2))
@click.option("--method", type=click.Choice(["full", "matrix_free"]), default="full", show_default=True)
@click.option("--top-k", default=32, show_default=True, type=click.IntRange(min=2))
@click.option("--manifold-dimension", default=None, type=click.IntRange(min=1),
              help="Reference line (5 for discs).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for dimension.json and dimension.png.")
def dimension(model, image, sigmas, size, train, num_train, method, top_k, manifold_dimension, seed, out_dir):
    """Effective dimension tr J(sigma), spectral gap and implied dimension of MODEL across sigma.

    Example: gahb analyze dimension reference:empirical --image discs --size 16 --train local-discs --out dim/
    """
    from keras_gahb.analysis.beyond_run import analyze_dimension

    s = analyze_dimension(out_dir, model, image, sigmas=_floats(sigmas), size=size, train=train,
                          num_train=num_train, method=method, top_k=top_k, seed=seed,
                          manifold_dimension=manifold_dimension)
    for j, sigma in enumerate(s["sigmas"]):
        g = "" if s["gaussian_trace"] is None else f" (Gaussian {s['gaussian_trace'][j]:.2f})"
        click.echo(f"sigma {sigma:g}: tr J {s['trace'][j]:.2f}{g}, implied dimension {s['dimension'][j]}")
    click.echo(f"Wrote {out_dir}/")


def register(group):
    """Add the four subcommands to the `gahb analyze` group."""
    for cmd in (references, dynamics, branching, dimension):
        group.add_command(cmd)
