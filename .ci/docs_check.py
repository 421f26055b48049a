"""Run every README/docs command marked CPU-quick and every example; check what the docs say.

A fenced ```bash or ```python block preceded by a line

    <!-- cpu-quick -->
    <!-- cpu-quick expect="regex" expect="another regex" -->

in README.md or docs/*.md is run as a new user would (bash blocks line by line with `gahb`
on the PATH, python blocks as a script), in a fresh temporary folder, on the TensorFlow
backend; it must exit 0 and its output must match every `expect` regex. Every
examples/*.py must appear in EXAMPLES below (a new example without an entry fails the
check) and print what its docstring and the docs claim.

Usage: python .ci/docs_check.py [--list] [NAME_SUBSTRING ...]
Prints wall and CPU seconds per item; exit status 1 if anything failed.
"""

import glob
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER = re.compile(
    r"<!-- cpu-quick(?P<attrs>[^>]*)-->\s*\n```(?P<lang>bash|python)\n(?P<code>.*?)```", re.S
)

#: examples/<file>: (arguments, regexes its output must match). Examples run in their own
#: temporary folder, so the files they write do not land in the checkout.
EXAMPLES = {
    "data_pipelines.py": ([], [
        r"wrote data_examples\.png",
        r"shared S1/S2: 0",
        r"Wiener filter at sigma=0\.1: measured MSE 0\.00\d+, closed form 0\.00\d+",
    ]),
    "models_fit.py": ([], [
        r"unet_tiny: 5,888 trainable parameters \(5,936 with the moving_std statistics\)",
        r"noisy 20\.\d+ dB -> denoised 2[1-9]\.\d+ dB",  # it denoises (+1 dB or more)
        r"max \|f\(3y\) - 3 f\(y\)\| = \d\.\d+e-0[5-9]",
    ]),
    "sample_gaussian_prior.py": ([], [
        r"300 images: 300 reached sigma_final.*, 0 diverged",
        r"inpainting RMSE of 4 solutions",
    ]),
    "analyze_gahb.py": (["--out", "analyze_example"], [
        r"UNet at sigma 0\.2: PSNR 13\.\d+ dB -> 1[5-9]\.\d+ dB",  # it denoises
        r"lambda_1\.\.4 = \[1\.0",                                   # kept directions ~ 1
        r"share of e_1\.\.e_3 in the span of the training images: \[1\. 1\. 1\.\]",
        r"max relative error vs full \d\.\de-0[6-9]",
        r"Wrote analyze_example/",
    ]),
    "train_model_fit.py": ([], [r"test PSNR gain at sigma=0\.1: \+[2-9]\.\d\d dB",
                                r"max \|f\(2y\) - 2 f\(y\)\| = "]),
    "gamma_init_floor.py": (["--images", "1024", "--out", "gamma_example"], [
        r"input PSNR: +40\.00 +33\.98",                       # -20 log10 sigma, sigma 0.01, 0.02
        r" ones out: +-?\d+\.\d\d.*\(\d+ s\)",
        r"authors out: +-?\d+\.\d\d.*\(\d+ s\)",
    ]),
    "beyond_the_paper.py": ([], [
        r"r\^2 to wiener 0\.9[5-9]\d, to empirical -?0\.\d+; closest: wiener",  # Wiener on Gaussian data
        r"20 faces: memorization ratio 1\.00 \(6/6 converged\)",
        r"disjoint memorizers: .* = [1-9]\d*\.\d{3} at sigma_t 0\.0\d, 0\.0\d\d at sigma_t 0\.[3-9]",
        r"endpoint correlation at sigma_t \[0\.6, 0\.3, 0\.03\]: \[[\d.]+, [\d.]+, (1\.0|0\.99\d)\]",
        r"Wiener tr J at sigma \[0\.05, 0\.2\]: (\[[^\]]*\]); closed form [^:]*: \1",  # equal lists
        r"disc tangent projection: tr J 5\.000, implied dimension 5",
        r"\[dynamics\] N=4: tau_gen \d+",
    ]),
    "reproduce_tiny.py": (["example_tiny"], [r"\[(PASS|FAIL)\] transition", r"report\.html",
                                             r"transition_n2_s1: 2 training and \d+ test images "
                                             r"of 8x8"]),
    "convert_official_checkpoint.py": ([], [
        r"max \|\(y - keras\(y\)\) - torch\(y\)\| = \d\.\d\de-0[5-9]",  # Keras = PyTorch
        r"Converted model: ",
    ]),
}


def marked_blocks():
    """(name, lang, code, expects) of every marked block in README.md and docs/*.md."""
    blocks = []
    for path in [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))):
        text = open(path, encoding="utf-8").read()
        for match in MARKER.finditer(text):
            line = text[: match.start()].count("\n") + 1
            expects = re.findall(r'expect="([^"]*)"', match.group("attrs"))
            blocks.append((f"{os.path.relpath(path, ROOT)}:{line}", match.group("lang"),
                           match.group("code"), expects))
    return blocks


def run(name, argv, expects, cwd, env):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.time() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    output = proc.stdout + proc.stderr
    missing = [e for e in expects if not re.search(e, output)]
    ok = proc.returncode == 0 and not missing
    print(f"[{'PASS' if ok else 'FAIL'}] {name}: {wall:.0f} s wall, {cpu:.0f} CPU-s", flush=True)
    if not ok:
        print(f"  exit status {proc.returncode}; missing output: {missing}")
        print("  " + "\n  ".join(output.strip().splitlines()[-25:]))
    return ok


def main(args):
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               MPLBACKEND="Agg")
    bindir = tempfile.mkdtemp(prefix="gahb_bin_")
    shim = os.path.join(bindir, "gahb")
    with open(shim, "w") as handle:  # `gahb` of this checkout, whatever is installed
        handle.write(f'#!/bin/sh\nexec "{sys.executable}" -m cli.main "$@"\n')
    os.chmod(shim, 0o755)
    env["PATH"] = bindir + os.pathsep + env["PATH"]

    items = []
    for name, lang, code, expects in marked_blocks():
        items.append((name, lang, code, expects))
    listed = set(EXAMPLES)
    present = {os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "examples", "*.py"))}
    for example in sorted(present):
        items.append((f"examples/{example}", "example", example, EXAMPLES.get(example, (None, []))))
    if "--list" in args:
        for item in items:
            print(item[0])
        return 0
    wanted = [a for a in args if not a.startswith("--")]
    ok = True
    if present - listed:
        print(f"[FAIL] examples without an entry in .ci/docs_check.py: {sorted(present - listed)}")
        ok = False
    for name, lang, code, expects in items:
        if wanted and not any(w in name for w in wanted):
            continue
        cwd = tempfile.mkdtemp(prefix="gahb_docs_")
        if lang == "bash":
            argv = ["bash", "-e", "-o", "pipefail", "-c", code]
        elif lang == "python":
            script = os.path.join(cwd, "block.py")
            with open(script, "w") as handle:
                handle.write(code)
            argv = [sys.executable, script]
        else:
            arguments, expects = expects
            if arguments is None:
                continue
            argv = [sys.executable, os.path.join(ROOT, "examples", code)] + arguments
        # bash blocks run in the checkout's copy of `gahb`; relative paths land in cwd.
        ok &= run(name, argv, expects, cwd, env)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
