"""Device and precision decisions, tested without a GPU: each is a function of what torch,
the driver, the scheduler and the architecture report, so every row of the table runs here."""

from pathlib import Path

import pytest
import torch

from vsr.errors import VsrError
from vsr.infer.device import (
    MIN_DRIVER,
    arch_supported,
    auto_precision,
    check_ordinal,
    device_report,
    driver_problem,
    fallback_error,
    problems_of,
    resolve_device,
    resolve_dtype,
)
from vsr.infer.visible import (
    assigned_gpus,
    nvidia_device_files,
    upscale_gpus,
    visible_gpu_count,
)
from vsr.models import load_descriptor
from vsr.models.swin2sr_net import build_descriptor

# The torch wheel's own architecture list (+cu130): no sm_70 (V100).
CU130_ARCHS = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]


def tiny_swin2sr():
    from transformers import Swin2SRConfig, Swin2SRForImageSuperResolution

    config = Swin2SRConfig(
        embed_dim=12, depths=[1], num_heads=[2], window_size=4, upscale=4, image_size=16
    )
    return build_descriptor(Swin2SRForImageSuperResolution(config).eval())


@pytest.mark.parametrize(
    ("device", "half", "bf16", "device_bf16", "expected"),
    [
        ("cuda", True, True, True, "fp16"),  # Compact, ESRGAN on any GPU
        ("cuda", False, True, True, "bf16"),  # DAT, Swin2SR on Ampere and newer (A10G, L4, H100)
        ("cuda", False, True, False, "fp32"),  # DAT on a T4 / V100: no bf16 in hardware
        ("cuda", False, False, True, "fp32"),
        ("cpu", True, True, False, "fp32"),
        ("mps", True, True, False, "fp32"),
    ],
)
def test_auto_precision_table(device, half, bf16, device_bf16, expected):
    assert auto_precision(device, half, bf16, device_bf16) == expected


@pytest.mark.parametrize(
    ("half", "bf16", "bits", "expected"),
    [
        (False, True, 8, "bf16"),  # DAT on an 8-bit source
        (False, True, 10, "fp32"),  # DAT on 10-bit: bf16 keeps about 8 bits
        (True, True, 10, "fp16"),  # Compact/ESRGAN on 10-bit: fp16 keeps 11
        (True, True, 12, "fp32"),
    ],
)
def test_auto_precision_follows_the_source_bit_depth(half, bf16, bits, expected):
    assert auto_precision("cuda", half, bf16, True, bits) == expected


def test_ten_bit_source_never_runs_dat_at_bf16(monkeypatch, caplog):
    import vsr.infer.device as device

    dat = load_descriptor("dat-light-x4")
    monkeypatch.setattr(device, "device_bf16", lambda _: True)  # an sm_80+ GPU's answer
    cuda = torch.device("cuda")
    assert resolve_dtype("auto", cuda, dat, "dat", source_bits=8) == "bf16"
    assert resolve_dtype("auto", cuda, dat, "dat", source_bits=10) == "fp32"
    # Asked for explicitly, it runs, with a warning naming the loss.
    assert resolve_dtype("bf16", cuda, dat, "dat", source_bits=10) == "bf16"
    assert "this 10-bit source loses levels" in caplog.text


def test_auto_precision_follows_each_architecture():
    """The registry's architectures say what they support; Swin2SR says what spandrel says."""
    cases = {
        "realesr-animevideov3": load_descriptor("realesr-animevideov3"),
        "dat-light-x4": load_descriptor("dat-light-x4"),
        "swin2sr": tiny_swin2sr(),
    }
    on_ampere = {
        name: auto_precision("cuda", d.supports_half, d.supports_bfloat16, True)
        for name, d in cases.items()
    }
    assert on_ampere == {"realesr-animevideov3": "fp16", "dat-light-x4": "bf16", "swin2sr": "bf16"}
    # Explicit fp16 on an architecture without half support stays a one-line error.
    with pytest.raises(VsrError, match="does not support fp16; use bf16 or fp32"):
        resolve_dtype("fp16", torch.device("cuda"), cases["dat-light-x4"], "dat-light-x4")
    assert resolve_dtype("auto", torch.device("cpu"), cases["dat-light-x4"], "dat") == "fp32"


@pytest.mark.parametrize(
    ("capability", "expected"),
    [((7, 0), False), ((7, 5), True), ((8, 9), True), ((9, 0), True), ((12, 1), True)],
)
def test_arch_support_follows_the_build(capability, expected):
    assert arch_supported(capability, CU130_ARCHS) is expected  # V100 (sm_70) has no kernels
    assert arch_supported((7, 0), ["sm_75", "compute_70"])  # PTX JIT covers older GPUs


def test_driver_older_than_the_torch_build_is_named():
    problem = driver_problem("550.54.15", "13.0")
    assert problem and "550.54.15" in problem and "580.65.06" in problem
    assert driver_problem("580.95.05", "13.0") is None
    assert driver_problem("535.104.05", "12.8") is None
    assert driver_problem(None, "13.0") is None and MIN_DRIVER[13] == "580.65.06"


def test_node_check_trusts_cuda_where_no_driver_file_or_nvidia_smi_exists():
    # A container or sandbox without /proc/driver/nvidia/version and nvidia-smi, CUDA working.
    assert problems_of(None, "13.0", None) == []
    no_driver = problems_of(None, "13.0", "Found no NVIDIA driver on your system")
    assert len(no_driver) == 1 and "no NVIDIA driver" in no_driver[0]
    old = problems_of("550.54.15", "13.0", None)
    assert len(old) == 1 and "older than 580.65.06" in old[0]
    assert problems_of("580.95.05", "13.0", None) == []


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"CUDA_VISIBLE_DEVICES": ""}, None),
        ({"CUDA_VISIBLE_DEVICES": "-1"}, None),
        ({"CUDA_VISIBLE_DEVICES": "0"}, "CUDA_VISIBLE_DEVICES=0"),
        ({"SLURM_JOB_GPUS": "2", "CUDA_VISIBLE_DEVICES": "0"}, "SLURM_JOB_GPUS=2"),
        ({"SLURM_GPUS_ON_NODE": "0"}, None),
        ({"SLURM_GPUS": "a10g:0"}, None),
        ({"SLURM_GPUS_PER_NODE": "a10g:1"}, "SLURM_GPUS_PER_NODE=a10g:1"),
        # Index lists: "0" is the first GPU, not none.
        ({"SLURM_JOB_GPUS": "0"}, "SLURM_JOB_GPUS=0"),
        ({"SLURM_STEP_GPUS": "0"}, "SLURM_STEP_GPUS=0"),
        ({"SLURM_STEP_GPUS": "0,1"}, "SLURM_STEP_GPUS=0,1"),
        ({"SLURM_JOB_GRES": "gpu:a10g:1"}, "SLURM_JOB_GRES=gpu:a10g:1"),
    ],
)
def test_assigned_gpus_from_the_scheduler(env, expected):
    assert assigned_gpus(env) == expected


def test_visible_gpus_from_device_files(tmp_path: Path):
    assert not nvidia_device_files(tmp_path) and visible_gpu_count({}, tmp_path) == 0
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm"):
        (tmp_path / name).touch()
    assert nvidia_device_files(tmp_path)
    assert visible_gpu_count({}, tmp_path) == 2
    assert visible_gpu_count({"CUDA_VISIBLE_DEVICES": "1"}, tmp_path) == 1
    assert visible_gpu_count({"CUDA_VISIBLE_DEVICES": ""}, tmp_path) == 0
    # The upscale rules' `gpu` resource: held on CUDA only, so CPU-only runs are not throttled.
    assert upscale_gpus("auto", {}, tmp_path) == 1 and upscale_gpus("cuda:1", {}, tmp_path) == 1
    assert upscale_gpus("cpu", {}, tmp_path) == 0
    assert upscale_gpus("auto", {}, tmp_path / "none") == 0


def test_no_silent_cpu_run_when_a_gpu_was_given():
    problem = "Found no NVIDIA driver on your system"
    error = fallback_error("CUDA_VISIBLE_DEVICES=0", True, problem)
    assert error and "given a GPU (CUDA_VISIBLE_DEVICES=0)" in error and problem in error
    # Nothing assigned, or a scheduler's placeholder GPU with no device behind it: the CPU.
    assert fallback_error(None, True, problem) is None
    assert fallback_error("CUDA_VISIBLE_DEVICES=0", False, problem) is None


def test_cuda_errors_are_one_line():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    for device in ("cuda", "cuda:3"):
        with pytest.raises(VsrError, match="CUDA is not usable on this machine") as caught:
            resolve_device(device)
        assert "\n" not in str(caught.value)
    with pytest.raises(VsrError, match=r"only 1 CUDA device visible \(cuda:0..cuda:0"):
        check_ordinal(torch.device("cuda:1"), 1)
    check_ordinal(torch.device("cuda:0"), 1)
    assert resolve_device("auto", {}) == torch.device("cpu")


def test_cpu_report_names_what_runs():
    report = device_report(torch.device("cpu"), "fp32", "onnxruntime", ["CPUExecutionProvider"])
    assert report["device"] == "cpu" and report["gpu"] is None
    assert report["torch_cuda"] == torch.version.cuda and report["precision"] == "fp32"
    assert report["providers"] == ["CPUExecutionProvider"]
