"""benchmarks/train_throughput.py: native bfloat16 detection and the refusal on emulated bf16."""

import importlib.util
import os

import pytest
from click.testing import CliRunner

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load():
    path = os.path.join(ROOT, "benchmarks", "train_throughput.py")
    spec = importlib.util.spec_from_file_location("train_throughput", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_native_bf16_flags_are_read_from_cpuinfo(tmp_path):
    bench = _load()
    plain = tmp_path / "plain"
    plain.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 fma avx512f\n\n"
                     "processor\t: 1\nflags\t\t: fpu sse avx2 fma avx512f\n")
    native = tmp_path / "native"
    native.write_text("processor\t: 0\nflags\t\t: avx2 avx512f avx512_bf16 amx_tile amx_bf16\n")
    assert bench.native_bf16_cpu_flags(str(plain)) == []
    assert bench.native_bf16_cpu_flags(str(native)) == ["amx_bf16", "avx512_bf16"]
    assert bench.native_bf16_cpu_flags(str(tmp_path / "missing")) is None


def test_emulated_bf16_is_refused_in_one_line(monkeypatch):
    bench = _load()
    monkeypatch.setattr(bench, "native_bf16_cpu_flags", lambda cpuinfo="/proc/cpuinfo": [])
    monkeypatch.setattr(bench, "_gpu_visible", lambda: False)
    monkeypatch.setattr(bench, "run_benchmark", lambda **kwargs: pytest.fail("must not run"))
    result = CliRunner().invoke(bench.main, ["--precision", "mixed_bfloat16"])
    assert result.exit_code != 0
    assert "no native bfloat16" in result.output and "--allow-emulated-bf16" in result.output
    monkeypatch.setattr(bench, "run_benchmark", lambda **kwargs: {"images_per_second": 1.0})
    result = CliRunner().invoke(bench.main, ["--precision", "mixed_bfloat16",
                                             "--allow-emulated-bf16"])
    assert result.exit_code == 0, result.output
