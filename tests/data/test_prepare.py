import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import gahb
from keras_gahb.data import get_images, load_prepared, prepare_dataset
from keras_gahb.data.prepare import sha256_file


def test_prepare_writes_shards_and_manifest_and_is_a_no_op_again(tmp_path):
    out = tmp_path / "discs"
    manifest = prepare_dataset(str(out), "discs", n=10, size=12, seed=3, shard_size=4)
    assert [s["count"] for s in manifest["shards"]] == [4, 4, 2]
    for shard in manifest["shards"]:
        assert sha256_file(out / shard["file"]) == shard["sha256"]
    images, read_back = load_prepared(str(out))
    np.testing.assert_array_equal(images, get_images("discs", 10, 12, seed=3))
    assert read_back == json.loads((out / "manifest.json").read_text())
    stamp = {f: os.stat(out / f).st_mtime_ns for f in os.listdir(out)}
    again = prepare_dataset(str(out), "discs", n=10, size=12, seed=3, shard_size=4)
    assert again == manifest
    assert {f: os.stat(out / f).st_mtime_ns for f in os.listdir(out)} == stamp
    np.testing.assert_array_equal(get_images("prepared", 4, 12, path=str(out)), images[:4])
    with pytest.raises(ValueError, match="different prepared dataset"):
        prepare_dataset(str(out), "discs", n=10, size=12, seed=4, shard_size=4)


def test_resume_after_interruption_and_corruption_detected(tmp_path):
    out = tmp_path / "calpha"
    full = prepare_dataset(str(out), "calpha", n=6, size=8, seed=0, shard_size=2, alpha=2.0)
    os.remove(out / "manifest.json")  # as if interrupted before the manifest
    os.remove(out / full["shards"][2]["file"])
    resumed = prepare_dataset(str(out), "calpha", n=6, size=8, seed=0, shard_size=2, alpha=2.0)
    assert resumed["shards"] == full["shards"]
    with open(out / full["shards"][0]["file"], "ab") as f:
        f.write(b"x")
    with pytest.raises(ValueError, match="SHA-256"):
        load_prepared(str(out))
    with pytest.raises(FileNotFoundError, match="manifest.json"):
        load_prepared(str(tmp_path))


def test_prepare_with_dedup_records_counts(tmp_path):
    manifest = prepare_dataset(str(tmp_path / "f"), "ray", n=5, size=8, deduplicate=0.95)
    # A ray: all images are scalings of one image, so they are all near duplicates.
    assert manifest["counts"]["written"] == 1 and manifest["counts"]["removed_duplicates"] == 4


def test_cli_list_prepare_show(tmp_path):
    runner = CliRunner()
    result = runner.invoke(gahb, ["data", "list"])
    assert result.exit_code == 0
    for name in ("calpha", "discs", "ray", "sinusoids", "gaussian", "faces", "photos", "celeba",
                 "celeba_hq", "lsun_bedroom", "folder"):
        assert name in result.output
    out = tmp_path / "prep"
    args = ["data", "prepare", "calpha", "--size", "8", "--n", "5", "--seed", "1", "--out",
            str(out), "-o", "alpha=2", "--quiet"]
    result = runner.invoke(gahb, args)
    assert result.exit_code == 0, result.output
    assert "5 images" in result.output and "manifest.json written" in result.output
    assert json.loads((out / "manifest.json").read_text())["config"]["options"] == {"alpha": 2}
    stamp = os.path.getmtime(out / "manifest.json")
    result = runner.invoke(gahb, args)  # a finished folder: nothing is rewritten, and it says so
    assert result.exit_code == 0, result.output
    assert "already complete, nothing written" in result.output
    assert os.path.getmtime(out / "manifest.json") == stamp
    png = tmp_path / "grid.png"
    result = runner.invoke(gahb, ["data", "show", "discs", "--n", "4", "--size", "8",
                                  "--out", str(png)])
    assert result.exit_code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = runner.invoke(gahb, ["data", "show", "prepared", "--n", "3", "--size", "8",
                                  "-o", f"path={out}", "--out", str(tmp_path / "p.png")])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("args, message", [
    (["data", "show", "nope", "--out", "x.png"], "Unknown dataset"),
    (["data", "show", "discs", "-o", "alpha=3", "--out", "x.png"], "no option"),
    (["data", "show", "faces", "--n", "101", "--out", "x.png"], "100 faces"),
    (["data", "prepare", "celeba", "--size", "8", "--n", "2", "--out", "o", "-o",
      "data_dir=/nonexistent"], "download_and_prepare"),
    (["data", "show", "discs", "-o", "oops", "--out", "x.png"], "KEY=VALUE"),
])
def test_cli_bad_input_gives_a_clear_error(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(gahb, args)
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit)
    assert message in result.output
