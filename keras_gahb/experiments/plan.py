"""The models of a reproduction and their seeds: one list that trainers and job schedulers share."""

import collections
import hashlib
import os

#: Model pairing of the transition sweep. "independent" (default, the paper's): every model has
#: its own seed for its initial weights and its noise stream. "same_seed" (an ablation): S1 and
#: S2 share the master seed, so their difference is due to the data alone; it understates the
#: optimization noise that the S1' control measures.
PAIRINGS = ("independent", "same_seed")

#: One model of a reproduction: part ("transition", "calpha", "discs"), training-set size N,
#: split ("s1", "s2" for the transition; "alpha2" for C^alpha; "train" for discs), replicate
#: (0; 1 = the S1' control, trained on S1 again with another seed), its seed and its folder.
ModelSpec = collections.namedtuple("ModelSpec", "part n split replicate seed run_dir")


def model_seed(master_seed, part, n, split, replicate=0):
    """The seed of one model: a hash of (master seed, part, N, split, replicate), in [0, 2^31).

    Independent of the order in which models are trained and of the other models of the
    scale, so any subset (a cluster job) gets the same seeds.
    """
    key = f"{int(master_seed)}/{part}/{int(n)}/{split}/{int(replicate)}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "big") & 0x7FFFFFFF


def transition_model_dir(run_dir, n, split, replicate=0):
    """Folder of a transition model: models/transition_n{N}_{split}[_r{replicate}]."""
    suffix = f"_r{replicate}" if replicate else ""
    return os.path.join(run_dir, "models", f"transition_n{n}_{split}{suffix}")


def transition_seed(config, n, split, replicate=0):
    """The seed of a transition model under `config.pairing`."""
    if config.pairing not in PAIRINGS:
        raise ValueError(f"Unknown pairing {config.pairing!r}; use one of {', '.join(PAIRINGS)}.")
    if config.pairing == "same_seed" and replicate == 0:
        return int(config.seed)
    return model_seed(config.seed, "transition", n, split, replicate)


def plan(config, run_dir="gahb_runs/reproduce"):
    """Every model a reproduction trains, with its seed and folder, in training order.

    Transition: per N, S1 and S2 (replicate 0) and, when `config.control`, the
    S1' control (S1 again, replicate 1, another seed). C^alpha: one model per
    alpha. Discs: one model. A scheduler can train the entries in any order or
    in parallel (`gahb reproduce --only N:SPLIT[:REPLICATE]` for transition
    models); a later `reproduce` call finds them done and gathers the report.

    Args:
        config: a `ReproductionConfig`.
        run_dir: the reproduction's folder. Defaults to "gahb_runs/reproduce".

    Returns:
        list of `ModelSpec(part, n, split, replicate, seed, run_dir)`.

    Example:

    >>> config = keras_gahb.experiments.config_for_scale("tiny")
    >>> [(m.split, m.replicate, m.seed) for m in keras_gahb.experiments.plan(config)][:3]
    """
    specs = []
    for n in config.n_values:
        for split, replicate in transition_members(config):
            specs.append(ModelSpec("transition", int(n), split, replicate,
                                   transition_seed(config, n, split, replicate),
                                   transition_model_dir(run_dir, n, split, replicate)))
    for alpha in config.calpha_alphas:
        split = f"alpha{alpha:g}"
        specs.append(ModelSpec("calpha", int(config.calpha_n), split, 0,
                               model_seed(config.seed, "calpha", config.calpha_n, split),
                               os.path.join(run_dir, "models", f"calpha_{alpha:g}")))
    specs.append(ModelSpec("discs", int(config.discs_n), "train", 0,
                           model_seed(config.seed, "discs", config.discs_n, "train"),
                           os.path.join(run_dir, "models", "discs")))
    return specs


def transition_members(config):
    """(split, replicate) of the models trained per N: S1, S2 and the S1' control."""
    members = [("s1", 0), ("s2", 0)]
    if config.control:
        members.append(("s1", 1))
    return members
