"""Write examples/notebooks/<name>.ipynb from each examples/<name>.py: one source, two forms.

A script becomes a notebook cell by cell:

- its module docstring -> the first (markdown) cell, its first line as the title;
- a line `# %% Some title` -> a markdown cell "## Some title", then a new code cell;
  a bare `# %%` -> a new code cell;
- everything else -> code cells, as written.

Each notebook opens with one generated code cell that gives the script its default
command-line arguments (a kernel's own sys.argv would be read as the script's options) and,
for a script that reads it, its `__doc__`.
Only the standard library is used (json); notebooks are nbformat 4.5 with stable cell ids,
so regenerating an unchanged script gives an identical file.

Usage:
    python examples/notebooks/make_notebooks.py          # (re)write every notebook
    python examples/notebooks/make_notebooks.py --check  # exit 1 if one is missing or stale
"""

import ast
import glob
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.dirname(HERE)
MARKER = re.compile(r"^# %%(?P<title>.*)$")


def script_cells(source):
    """[(kind, text)] of a script: "markdown" or "code" cells in order, per the rules above."""
    module = ast.parse(source)
    lines = source.splitlines()
    cells = []
    docstring = ast.get_docstring(module, clean=True)
    start = 0
    if docstring is not None:
        first, *rest = docstring.splitlines()
        cells.append(("markdown", "\n".join([f"# {first.strip()}", *rest]).rstrip()))
        start = module.body[0].end_lineno
    code = []
    for line in lines[start:]:
        match = MARKER.match(line)
        if match:
            cells.append(("code", "\n".join(code)))
            code = []
            title = match.group("title").strip()
            if title:
                cells.append(("markdown", f"## {title}"))
            continue
        code.append(line)
    cells.append(("code", "\n".join(code)))
    return [(kind, text.strip("\n")) for kind, text in cells if text.strip()]


def notebook(script_path):
    """The notebook (a dict, nbformat 4.5) of one example script."""
    name = os.path.basename(script_path)
    stem = os.path.splitext(name)[0]
    with open(script_path, encoding="utf-8") as handle:
        source = handle.read()
    cells = script_cells(source)
    setup = ("# Generated from examples/" + name + " by examples/notebooks/make_notebooks.py:\n"
             "# edit the script, not this notebook. The script's default arguments; to pass\n"
             "# others, set e.g. sys.argv[1:] = [\"--out\", \"my_folder\"].\n"
             "import sys\n\n"
             f"sys.argv = [{name!r}]")
    if "__doc__" in source:  # a notebook has no module docstring of its own
        lines = ast.get_docstring(ast.parse(source)).splitlines(keepends=True)
        setup += "\n__doc__ = (\n" + "".join(f"    {line!r}\n" for line in lines) + ")"
    position = 1 if cells and cells[0][0] == "markdown" else 0
    cells.insert(position, ("code", setup))
    return {
        "cells": [_cell(kind, text, f"{stem}-{i}") for i, (kind, text) in enumerate(cells)],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def notebook_text(script_path):
    """The .ipynb file's exact text for a script."""
    return json.dumps(notebook(script_path), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def notebook_path(script_path):
    stem = os.path.splitext(os.path.basename(script_path))[0]
    return os.path.join(HERE, stem + ".ipynb")


def scripts():
    return sorted(glob.glob(os.path.join(EXAMPLES, "*.py")))


def stale():
    """Notebooks that are missing or differ from their script, and notebooks without a script."""
    problems = []
    for script in scripts():
        path = notebook_path(script)
        if not os.path.exists(path):
            problems.append(f"{os.path.relpath(path, EXAMPLES)} is missing")
        elif open(path, encoding="utf-8").read() != notebook_text(script):
            problems.append(f"{os.path.relpath(path, EXAMPLES)} differs from its script")
    expected = {notebook_path(s) for s in scripts()}
    for path in sorted(glob.glob(os.path.join(HERE, "*.ipynb"))):
        if path not in expected:
            problems.append(f"{os.path.relpath(path, EXAMPLES)} has no script")
    return problems


def _cell(kind, text, cell_id):
    cell = {"cell_type": kind, "id": cell_id, "metadata": {}, "source": _lines(text)}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def _lines(text):
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]


def main(args):
    if "--check" in args:
        problems = stale()
        for problem in problems:
            print(f"{problem}: run python examples/notebooks/make_notebooks.py")
        return 1 if problems else 0
    for script in scripts():
        path = notebook_path(script)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(notebook_text(script))
        print(f"wrote {os.path.relpath(path, os.path.dirname(EXAMPLES))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
