"""The Upscaler's CUDA-path mechanisms, run on the CPU: fp16 arithmetic on 10-bit input, the
out-of-memory retry (a forward that raises torch.OutOfMemoryError), the NaN guard, the memory
budget's fixed costs, blend weights built once, and ONNX Runtime's provider checks."""

import logging

import numpy as np
import pytest
import torch
from skimage import data

from vsr.errors import VsrError
from vsr.infer.backends.onnx import check_providers, run_precision, trt_profile
from vsr.infer.memory import (
    I420_BYTES_PER_PIXEL,
    auto_batch,
    auto_budget_bytes,
    is_out_of_memory,
)
from vsr.infer.upscaler import NonFiniteOutput, Upscaler, to_model_input
from vsr.measure.gpu_inputs import computing_in_fp16, inject_out_of_memory, ten_bit_frame
from vsr.steps.summary import collect_devices
from vsr.steps.upscale import _upscale_batch
from vsr.util import write_json

MODEL = "realesr-animevideov3"


def astronaut(height: int, width: int, top: int = 150, left: int = 180) -> np.ndarray:
    return np.ascontiguousarray(data.astronaut()[top : top + height, left : left + width])


def psnr(a: np.ndarray, b: np.ndarray, peak: float) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(peak**2 / mse)


def test_uint16_white_is_finite_at_fp16():
    white = torch.tensor([[[[65535, 65519, 65472]]]], dtype=torch.int32).to(torch.uint16)
    assert torch.isinf(white.to(torch.float16)).any()  # casting first overflows fp16
    scaled = to_model_input(white, 65535.0, torch.float16)
    assert scaled.dtype == torch.float16 and torch.isfinite(scaled).all()
    assert scaled.max().item() == 1.0


def test_ten_bit_clip_at_fp16_has_no_nan_and_matches_fp32():
    fp32 = Upscaler(MODEL, device="cpu", backend="torch", threads=2)
    reference = fp32.upscale(ten_bit_frame(24))
    out = computing_in_fp16(Upscaler(MODEL, device="cpu", backend="torch", threads=2)).upscale(
        ten_bit_frame(24)
    )
    assert out.dtype == np.uint16 and out[0, 20:44, 20:44].min() > 60000  # white stays white
    assert psnr(out, reference, 65535.0) >= 40


def test_nan_output_names_the_frame_and_the_shard():
    upscaler = Upscaler(MODEL, device="cpu", backend="torch", threads=2, batch_size=3)
    forward = upscaler._forward

    def poisoned(batch: torch.Tensor) -> torch.Tensor:
        out = forward(batch)
        out[1, :, 5, 5] = float("nan")  # the second frame of each call
        return out

    upscaler._forward = poisoned
    frames = np.stack([astronaut(16, 16, top=10 * i) for i in range(3)])
    with pytest.raises(NonFiniteOutput) as caught:
        upscaler.upscale(frames)
    assert caught.value.frame == 1
    with pytest.raises(VsrError, match=r"^shards/0003.mkv: frame 41: the model output is NaN"):
        _upscale_batch(upscaler, frames, None, "shards/0003.mkv", 40)


def test_out_of_memory_halves_the_tile_and_retries(caplog):
    upscaler = Upscaler(MODEL, device="cpu", backend="torch", threads=2)
    frames = np.stack([astronaut(96, 128), astronaut(96, 128, top=40)])
    whole = upscaler.upscale(frames)
    calls = inject_out_of_memory(upscaler)
    with caplog.at_level(logging.WARNING, logger="vsr.infer.upscaler"):
        retried = upscaler.upscale(frames)
    assert calls[0] == (1, 3, 96, 128) and upscaler.tile == 64  # whole frame, then 64 tiles
    assert all(shape[2:] == (64, 64) for shape in calls[1:])
    assert "out of cpu memory; retrying with tile none -> 64" in caplog.text
    assert psnr(retried, whole, 255.0) >= 45


def test_out_of_memory_after_the_model_call_is_retried(caplog):
    """Rounding, colour conversion and the copy back allocate at output size (the I420
    conversion most of all): their out-of-memory errors take the same retry as the model's."""
    upscaler = Upscaler(MODEL, device="cpu", backend="torch", threads=2, batch_size=2)
    frames = np.stack([astronaut(48, 64), astronaut(48, 64, top=40)])
    whole = upscaler.upscale(frames)
    download, copies = upscaler._transfer.download, []

    def failing_once(tensor: torch.Tensor, dest: np.ndarray) -> None:
        copies.append(tuple(tensor.shape))
        if len(copies) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory (injected, in the copy back)")
        download(tensor, dest)

    upscaler._transfer.download = failing_once
    with caplog.at_level(logging.WARNING, logger="vsr.infer.upscaler"):
        retried = upscaler.upscale(frames)
    assert "retrying with batch 2 -> 1" in caplog.text
    assert copies[0][0] == 2 and all(shape[0] == 1 for shape in copies[1:])
    assert np.array_equal(retried, whole)

    def i420_failing_once(upscaled: torch.Tensor) -> torch.Tensor:
        calls.append(len(upscaled))
        if len(calls) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory (injected, in to_i420)")
        height, width = upscaled.shape[2:]
        return torch.zeros((len(upscaled), height * 3 // 2, width), dtype=torch.uint8)

    calls: list[int] = []
    upscaler = Upscaler(MODEL, device="cpu", backend="torch", threads=2, batch_size=2)
    out = upscaler.upscale_i420(frames, i420_failing_once)
    assert out.shape == (2, 192 * 3 // 2, 256) and calls == [2, 1, 1]


def test_out_of_memory_at_the_smallest_tile_is_one_line():
    upscaler = Upscaler(MODEL, device="cpu", backend="torch", threads=2, tile=48)

    inject_out_of_memory(upscaler, times=100)
    with pytest.raises(VsrError, match="out of cpu memory even at tile 48") as caught:
        upscaler.upscale(astronaut(96, 128)[None])
    assert "\n" not in str(caught.value)


def test_onnxruntime_out_of_memory_is_recognised():
    from onnxruntime.capi.onnxruntime_pybind11_state import Fail, RuntimeException

    assert is_out_of_memory(RuntimeException("RUNTIME_EXCEPTION : CUDA failure 2: out of memory"))
    assert is_out_of_memory(Fail("Failed to allocate memory for requested buffer of size 8"))
    assert not is_out_of_memory(Fail("Invalid input name"))
    assert not is_out_of_memory(RuntimeError("out of memory"))  # not a device allocator's
    assert is_out_of_memory(RuntimeError("cuDNN error: CUDNN_STATUS_ALLOC_FAILED"))


def test_budget_counts_accumulators_and_colour_conversion():
    upscaler = Upscaler(MODEL, device="cpu", backend="torch", memory_budget_mb=100)
    # 320x180 needs ~92 MB of activations: whole frames with the rounding copy (12 B per 4x
    # pixel), tiles once the on-device I420 conversion's buffers (36 B per 4x pixel) count.
    assert upscaler.plan(180, 320) == (0, 1)
    tile, _ = upscaler.plan(180, 320, I420_BYTES_PER_PIXEL)
    assert 0 < tile < 320  # tiled along the width
    upscaler.max_side = 128  # as with a TensorRT engine's shape profile
    assert upscaler.plan(120, 128)[0] == 0 and upscaler.plan(120, 200)[0] == 128


def test_auto_batch_and_budget_follow_the_device():
    """batch_size 0 and memory_budget_mb 0 (the defaults): the CPU keeps 1 frame within 4096 MB;
    a GPU takes a share of its free memory and up to 8 frames per call."""
    upscaler = Upscaler(MODEL, device="cpu", backend="torch", threads=2)
    assert upscaler.batch_size == 1 and upscaler.budget_bytes == 4096 * 2**20
    assert upscaler.plan(1080, 1920) == (0, 1)
    # An 80 GB card with 60 GiB free once the model is loaded: eight 1080p frames per call,
    # where the fixed 4096 MB held one.
    upscaler.batch_size = auto_batch("cuda")
    upscaler.budget_bytes = auto_budget_bytes("cuda", 60 * 2**30)
    assert upscaler.budget_bytes == int(0.7 * 60 * 2**30)
    assert upscaler.plan(1080, 1920) == (0, 8)
    # A 16 GB card with 6 GiB free: what fits, not eight.
    upscaler.budget_bytes = auto_budget_bytes("cuda", 6 * 2**30)
    assert upscaler.plan(1080, 1920) == (0, 1)
    assert auto_budget_bytes("cpu", None) == 4096 * 2**20 and auto_batch("cpu") == 1


def test_blend_weights_are_built_once_per_kind_of_tile():
    upscaler = Upscaler(MODEL, device="cpu", backend="torch", threads=2, tile=48, tile_overlap=8)
    upscaler.upscale(astronaut(100, 140)[None])
    first = dict(upscaler._weights)
    assert 4 <= len(first) <= 9  # corners, edges, middle: not one per tile
    upscaler.upscale(astronaut(100, 140, top=20)[None])
    assert all(upscaler._weights[key] is weight for key, weight in first.items())


def test_onnxruntime_provider_checks():
    gpu = ["TensorrtExecutionProvider", "CUDAExecutionProvider"]
    assert check_providers(gpu, gpu + ["CPUExecutionProvider"]) is None
    fallback = check_providers(gpu, ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert fallback == (
        "TensorrtExecutionProvider did not load; onnxruntime runs on CUDAExecutionProvider"
    )
    with pytest.raises(VsrError, match="did not load .onnxruntime runs CPUExecutionProvider"):
        check_providers(gpu, ["CPUExecutionProvider"])
    assert trt_profile(4, multiple=16) == {
        "trt_profile_min_shapes": "input:1x3x16x16",
        "trt_profile_opt_shapes": "input:4x3x512x512",
        "trt_profile_max_shapes": "input:4x3x1920x1920",
    }


def test_onnxruntime_reports_providers_and_the_precision_it_runs_at():
    pytest.importorskip("onnxruntime")
    upscaler = Upscaler(MODEL, device="cpu", threads=2, backend="onnxruntime")
    assert upscaler.report["providers"] == ["CPUExecutionProvider"]
    assert upscaler.report["precision"] == "fp32" and upscaler.report["backend"] == "onnxruntime"
    network = upscaler._forward  # CUDA without TensorRT runs the fp32 graph, whatever was asked
    assert network.precision == "fp32"

    class Half:
        dtype = torch.float16

    assert run_precision(Half(), ["CUDAExecutionProvider"]) == "fp32"  # type: ignore[arg-type]
    assert run_precision(Half(), ["TensorrtExecutionProvider"]) == "fp16"  # type: ignore[arg-type]


def test_summary_device_from_the_upscale_jobs(tmp_path):
    report = {"device": "cuda:0", "gpu": "NVIDIA L4", "precision": "fp16", "backend": "torch"}
    paths = []
    for index, gpu in enumerate(("NVIDIA L4", "NVIDIA L4", "NVIDIA A10G")):
        paths.append(str(tmp_path / f"upscale-{index}.json"))
        write_json(paths[-1], {"step": "upscale", "seconds": 1.0, "device": {**report, "gpu": gpu}})
    assert collect_devices(paths[:2]) == report
    mixed = collect_devices(paths)
    assert mixed["gpu"] == "NVIDIA L4" and mixed["others"][0]["gpu"] == "NVIDIA A10G"
    assert collect_devices([]) is None


def test_compile_cache_is_shared_not_tmp(tmp_path, monkeypatch):
    from vsr.infer.backends.pytorch import use_shared_compile_cache

    for name in ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR", "VSR_COMPILE_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VSR_CACHE_DIR", str(tmp_path / "shared"))
    assert use_shared_compile_cache() == tmp_path / "shared" / "torch-compile" / "inductor"
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR")
    monkeypatch.setenv("VSR_COMPILE_CACHE_DIR", str(tmp_path / "work" / "compile"))
    assert use_shared_compile_cache() == tmp_path / "work" / "compile" / "inductor"


def test_torch_compile_builds_for_the_first_real_shape_only(tmp_path, monkeypatch):
    """No compile at a probe size nothing uses: the first call's shape, checked against eager
    on that call's batch, and no second compile for the same shape."""
    from vsr.infer.backends.common import Network
    from vsr.infer.backends.pytorch import compiled_forward
    from vsr.models import load_descriptor

    monkeypatch.setenv("VSR_COMPILE_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.delenv("TRITON_CACHE_DIR", raising=False)
    torch._dynamo.reset()
    graphs: list[tuple[int, ...]] = []

    def recording(graph: torch.fx.GraphModule, inputs: list[torch.Tensor]):
        # Dynamo hands each new graph over here, the weights lifted as inputs beside the frame.
        graphs.extend(tuple(t.shape) for t in inputs if t.ndim == 4 and t.shape[0] == 1)
        return graph.forward

    descriptor = load_descriptor(MODEL)
    network = Network(MODEL, descriptor, torch.device("cpu"), torch.float32)
    forward = compiled_forward(network, compiler_backend=recording)
    assert graphs == []  # nothing compiled before a real call
    frame = torch.from_numpy(astronaut(40, 56)).permute(2, 0, 1)[None].float() / 255
    out = forward(frame)
    assert graphs == [(1, 3, 40, 56)]
    again = forward(frame)
    assert graphs == [(1, 3, 40, 56)] and torch.equal(out, again)
    assert torch.allclose(out, descriptor(frame), atol=1e-5)
    torch._dynamo.reset()
