"""The example notebooks are generated from the example scripts (one source) and kept in sync."""

import importlib.util
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location(
    "make_notebooks", os.path.join(ROOT, "examples", "notebooks", "make_notebooks.py"))
make_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_notebooks)


def test_cells_split_at_markers_with_the_docstring_first():
    source = ('"""Title line.\n\nMore text.\n"""\n\nimport os\n\n# %% Data\nx = 1\n# %%\n'
              'print(x)\n')
    assert make_notebooks.script_cells(source) == [
        ("markdown", "# Title line.\n\nMore text."),
        ("code", "import os"),
        ("markdown", "## Data"),
        ("code", "x = 1"),
        ("code", "print(x)"),
    ]


def test_every_example_has_its_notebook_in_sync():
    assert make_notebooks.stale() == []
    for script in make_notebooks.scripts():
        with open(make_notebooks.notebook_path(script), encoding="utf-8") as handle:
            notebook = json.load(handle)
        code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
        # The generated first code cell gives the script its own defaults, not the kernel's argv.
        assert f"sys.argv = [{os.path.basename(script)!r}]" in "".join(code[0]["source"])
        body = "\n".join("".join(c["source"]) for c in code[1:])
        with open(script, encoding="utf-8") as handle:
            lines = [line for line in handle.read().splitlines() if line.strip()
                     and not line.startswith("# %%")]
        for line in lines[-5:]:  # the script's code, as written, ends the notebook
            assert line in body


def test_a_changed_script_makes_its_notebook_stale(tmp_path, monkeypatch):
    script = tmp_path / "demo.py"
    script.write_text('"""Demo."""\nprint(1)\n')
    (tmp_path / "notebooks").mkdir()
    monkeypatch.setattr(make_notebooks, "EXAMPLES", str(tmp_path))
    monkeypatch.setattr(make_notebooks, "HERE", str(tmp_path / "notebooks"))
    assert make_notebooks.stale() == [f"notebooks{os.sep}demo.ipynb is missing"]
    assert make_notebooks.main([]) == 0 and make_notebooks.stale() == []
    script.write_text('"""Demo."""\nprint(2)\n')
    assert make_notebooks.stale() == [f"notebooks{os.sep}demo.ipynb differs from its script"]
    assert make_notebooks.main(["--check"]) == 1


def test_notebooks_are_valid_nbformat():
    nbformat = pytest.importorskip("nbformat")
    for script in make_notebooks.scripts():
        nbformat.validate(nbformat.read(make_notebooks.notebook_path(script), as_version=4))
