"""Run every README/docs command marked CPU-quick and every example; check what the docs say.

A fenced ```bash or ```python block preceded by a line

    <!-- cpu-quick -->
    <!-- cpu-quick expect="regex" expect="another regex" -->

in README.md or docs/*.md is run as a new user would (bash blocks line by line with `gahb`
on the PATH, python blocks as a script), in a fresh temporary folder, on the TensorFlow
backend; it must exit 0 and its output must match every `expect` regex. A block marked
`<!-- cpu-quick setup="tiny-run" ... -->` runs in a folder that already holds a finished
`gahb reproduce --scale tiny --set n_values=[10,10000]` run at gahb_runs/reproduce_quick
(built once per check; the quick scale's folder names for N = 10 and 10,000, a minute of
work), so that commands written for the quick run's folder run as written. Every
examples/*.py must appear in EXAMPLES below (a new example without an entry fails the
check) and print what its docstring and the docs claim. The notebooks of
examples/notebooks/ must be in sync with their scripts (make_notebooks.py --check), and
those in NOTEBOOKS are executed (nbclient with a Python kernel when installed, else their
code cells in order as one script) and must print what their scripts print.

Usage: python .ci/docs_check.py [--list] [NAME_SUBSTRING ...]
Prints wall and CPU seconds per item; exit status 1 if anything failed.
"""

import glob
import importlib.util
import os
import re
import resource
import shutil
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
    "pretrained_presets.py": ([], [
        r"calpha2_medium at sigma 0\.02: noisy 3\d\.\d\d dB -> 3\d\.\d\d dB \(stored 3\d\.\d\d\)",
        r"max \|f\(3y\) - 3 f\(y\)\| = \d\.\d\de-0[5-9]",
        r"S1 vs S2 samples, same seed: mean correlation 0\.[5-9]\d\d over [1-8] samples; "
        r"different seeds: -?0\.[0-4]\d\d",
    ]),
    "convert_official_checkpoint.py": ([], [
        r"max \|\(y - keras\(y\)\) - torch\(y\)\| = \d\.\d\de-0[5-9]",  # Keras = PyTorch
        r"Converted model: ",
    ]),
}


#: Notebooks executed by the check (the others are checked to be in sync only): the two that
#: run in seconds.
NOTEBOOKS = ("data_pipelines", "sample_gaussian_prior")

#: Runs a notebook in the current folder and prints its text outputs (argv[1]: the notebook).
NOTEBOOK_RUNNER = """
import json, os, subprocess, sys
path = sys.argv[1]
try:
    import nbclient, nbformat
except ImportError:  # no Jupyter kernel tooling: the code cells in order, as one script
    cells = json.load(open(path, encoding="utf-8"))["cells"]
    code = "\\n\\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    open("notebook_cells.py", "w").write(code)
    sys.exit(subprocess.run([sys.executable, "notebook_cells.py"]).returncode)
notebook = nbformat.read(path, as_version=4)
client = nbclient.NotebookClient(notebook, timeout=1800, kernel_name="python3",
                                 resources={"metadata": {"path": os.getcwd()}})
try:
    client.execute()
finally:
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                print(output["text"], end="")
            elif output.get("output_type") == "error":
                print(output["ename"], output["evalue"])
            elif "text/plain" in output.get("data", {}):
                print(output["data"]["text/plain"])
"""


def tiny_run():
    """A finished `gahb reproduce --scale tiny` run folder, built once per check (cached)."""
    global _TINY_RUN
    if _TINY_RUN is None:
        folder = tempfile.mkdtemp(prefix="gahb_tiny_run_")
        _TINY_RUN = os.path.join(folder, "reproduce_quick")
        start, before = time.time(), resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run([sys.executable, "-m", "cli.main", "reproduce", "--scale", "tiny",
                               "--set", "n_values=[10,10000]", "--out", _TINY_RUN, "--quiet"],
                              cwd=ROOT, env=_ENV, capture_output=True, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        print(f"[setup] gahb reproduce --scale tiny for the tiny-run blocks: "
              f"{time.time() - start:.0f} s wall, {cpu:.0f} CPU-s, exit status {proc.returncode}",
              flush=True)
        if proc.returncode:
            print("  " + "\n  ".join((proc.stdout + proc.stderr).strip().splitlines()[-25:]))
    return _TINY_RUN


_TINY_RUN = None
_ENV = None


def marked_blocks():
    """(name, lang, code, expects) of every marked block in README.md and docs/*.md."""
    blocks = []
    for path in [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))):
        text = open(path, encoding="utf-8").read()
        for match in MARKER.finditer(text):
            line = text[: match.start()].count("\n") + 1
            expects = re.findall(r'expect="([^"]*)"', match.group("attrs"))
            setup = re.findall(r'setup="([^"]*)"', match.group("attrs"))
            blocks.append((f"{os.path.relpath(path, ROOT)}:{line}", match.group("lang"),
                           match.group("code"), (expects, setup)))
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
    global _ENV
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               MPLBACKEND="Agg")
    _ENV = env
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
    items.append(("examples/notebooks (in sync with the scripts)", "sync", None, ([], [])))
    for stem in NOTEBOOKS:
        items.append((f"examples/notebooks/{stem}.ipynb", "notebook", stem,
                      (EXAMPLES[f"{stem}.py"][1], [])))
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
        if lang in ("bash", "python"):
            expects, setup = expects
            if "tiny-run" in setup:
                shutil.copytree(tiny_run(), os.path.join(cwd, "gahb_runs", "reproduce_quick"))
        if lang == "bash":
            argv = ["bash", "-e", "-o", "pipefail", "-c", code]
        elif lang == "python":
            script = os.path.join(cwd, "block.py")
            with open(script, "w") as handle:
                handle.write(code)
            argv = [sys.executable, script]
        elif lang == "sync":
            argv = [sys.executable, os.path.join(ROOT, "examples", "notebooks", "make_notebooks.py"),
                    "--check"]
            expects = []
        elif lang == "notebook":
            expects = expects[0]
            argv = [sys.executable, "-c", NOTEBOOK_RUNNER,
                    os.path.join(ROOT, "examples", "notebooks", f"{code}.ipynb")]
            if importlib.util.find_spec("nbclient") is None:
                name += " (no nbclient: its code cells as a script)"
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
