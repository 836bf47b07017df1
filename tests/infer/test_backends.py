"""Backends (torch, onnxruntime, ncnn; auto) give the same pictures as eager torch fp32.

Real weights (realesr-animevideov3, and realesrgan-x4plus on a tiny crop) on crops of
scikit-image's astronaut photo; exports and calibrations go to a temporary cache. CUDA-only
paths (fp16, torch.compile, TensorRT) run only where a GPU is present.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data

from vsr.errors import VsrError
from vsr.infer import backends
from vsr.infer.upscaler import Upscaler
from vsr.models.cache import CACHE_ENV

ANIME, REAL = "realesr-animevideov3", "realesrgan-x4plus"
# Stated tolerance: every backend within 45 dB PSNR of torch fp32 on 8-bit output.
MIN_PSNR_DB = 45.0
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module", autouse=True)
def cache_dir(tmp_path_factory) -> Iterator[Path]:
    """A private model cache: exports and calibration choices start empty."""
    folder = tmp_path_factory.mktemp("vsr-cache")
    previous = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(folder)
    yield folder / "models"
    if previous is None:
        os.environ.pop(CACHE_ENV, None)
    else:
        os.environ[CACHE_ENV] = previous


def crop(height: int, width: int, top: int = 150, left: int = 180) -> np.ndarray:
    return np.ascontiguousarray(data.astronaut()[top : top + height, left : left + width])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def upscaled(model: str, frames: np.ndarray, backend: str, **settings) -> np.ndarray:
    upscaler = Upscaler(model, device="cpu", threads=2, backend=backend, **settings)
    assert upscaler.backend == backend
    return upscaler.upscale(frames)


@pytest.fixture(scope="module")
def anime_torch() -> np.ndarray:
    return upscaled(ANIME, crop(67, 93)[None], "torch")


@pytest.mark.parametrize("backend", ["onnxruntime", "ncnn"])
def test_anime_backend_matches_torch(backend: str, anime_torch: np.ndarray):
    out = upscaled(ANIME, crop(67, 93)[None], backend)  # odd size: dynamic H/W
    assert out.shape == anime_torch.shape == (1, 268, 372, 3)
    assert psnr(out, anime_torch) >= MIN_PSNR_DB
    assert np.abs(out.astype(int) - anime_torch).max() <= 2  # float order only: no drift


@pytest.mark.parametrize("backend", ["onnxruntime", "ncnn"])
def test_x4plus_backend_matches_torch(backend: str):
    frames = crop(24, 32)[None]
    reference = upscaled(REAL, frames, "torch")
    assert psnr(upscaled(REAL, frames, backend), reference) >= MIN_PSNR_DB


def test_batches_and_tiles_match_torch():
    """A batch of two, and a frame split into cross-faded tiles, through onnxruntime."""
    frames = np.stack([crop(40, 56), crop(40, 56, top=300, left=100)])
    batched = dict(batch_size=2)
    ort_batched = upscaled(ANIME, frames, "onnxruntime", **batched)
    assert psnr(ort_batched, upscaled(ANIME, frames, "torch", **batched)) >= MIN_PSNR_DB
    tiled = dict(tile=40, tile_overlap=8)
    frame = crop(72, 88)[None]
    ort_tiled = upscaled(ANIME, frame, "onnxruntime", **tiled)
    assert psnr(ort_tiled, upscaled(ANIME, frame, "torch", **tiled)) >= MIN_PSNR_DB


def test_onnx_export_is_cached_once(cache_dir: Path):
    Upscaler(ANIME, device="cpu", backend="onnxruntime")
    exports = sorted(cache_dir.glob(f"{ANIME}-*-opset{backends.ONNX_OPSET}.onnx"))
    assert len(exports) == 1
    stamp = exports[0].stat().st_mtime_ns
    Upscaler(ANIME, device="cpu", backend="onnxruntime")
    assert exports[0].stat().st_mtime_ns == stamp  # reused, not exported again
    assert not list(cache_dir.glob(".*.partial*"))  # atomic write left no temporary file


def test_auto_measures_once_then_reuses_the_cached_choice(cache_dir: Path):
    first = Upscaler(ANIME, device="cpu", threads=2, backend="auto")
    assert first.backend in {"torch", "onnxruntime", "ncnn"}
    choices = json.loads((cache_dir / backends.CHOICES_FILE).read_text())
    (key,) = [k for k in choices if k.startswith(f"{backends.CHOICES_VERSION}|{ANIME}|")]
    assert key.endswith("|cpu|float32|2")  # per model weights, device, precision, threads
    assert set(choices[key]["seconds"]) == {"torch", "onnxruntime", "ncnn"}
    assert choices[key]["backend"] == backends.pick(choices[key]["seconds"])

    # The cached choice is taken as is (set to a slower one here to prove it is read).
    forced = next(name for name in ("ncnn", "onnxruntime") if name != first.backend)
    choices[key]["backend"] = forced
    (cache_dir / backends.CHOICES_FILE).write_text(json.dumps(choices))
    second = Upscaler(ANIME, device="cpu", threads=2, backend="auto")
    assert second.backend == forced
    out = second.upscale(crop(32, 48)[None])
    assert psnr(out, upscaled(ANIME, crop(32, 48)[None], "torch")) >= MIN_PSNR_DB

    # A choice this machine cannot run (say, made on a GPU node with a shared cache) is re-measured.
    choices[key]["backend"] = "tensorrt-from-elsewhere"
    (cache_dir / backends.CHOICES_FILE).write_text(json.dumps(choices))
    assert (
        Upscaler(ANIME, device="cpu", threads=2, backend="auto").backend in choices[key]["seconds"]
    )


def test_auto_keeps_eager_torch_unless_another_backend_is_clearly_faster():
    assert backends.pick({"torch": 1.0, "onnxruntime": 0.95, "ncnn": 0.93}) == "torch"  # noise
    assert backends.pick({"torch": 1.0, "onnxruntime": 0.8, "ncnn": 0.85}) == "onnxruntime"
    assert backends.pick({"torch": 0.5, "ncnn": 0.9}) == "torch"
    assert backends.pick({"onnxruntime": 0.8, "ncnn": 0.7}) == "ncnn"  # torch not timed (failed)


def test_bad_backend_settings_fail_with_one_line_errors(tmp_path: Path):
    with pytest.raises(VsrError, match="backend=tensorflow.*unknown backend"):
        Upscaler(ANIME, device="cpu", backend="tensorflow")
    with pytest.raises(VsrError, match="ncnn.*fp32 only"):
        Upscaler(ANIME, device="cpu", precision="bf16", backend="ncnn")
    with pytest.raises(VsrError, match="onnxruntime.*fp32"):
        Upscaler(ANIME, device="cpu", precision="bf16", backend="onnxruntime")
    # A local checkpoint has no ncnn files: ncnn is refused, onnxruntime works.
    checkpoint = tmp_path / "anime.pth"
    torch.save(
        Upscaler(ANIME, device="cpu", backend="torch")._descriptor.model.state_dict(), checkpoint
    )
    with pytest.raises(VsrError, match="no ncnn .param/.bin"):
        Upscaler(str(checkpoint), device="cpu", backend="ncnn")
    assert Upscaler(str(checkpoint), device="cpu", backend="auto").backend in {
        "torch",
        "onnxruntime",
    }


def test_cuda_providers_are_ordered_tensorrt_cuda_with_fp16_engines():
    """Provider choice for a GPU, checked without one (no session is created)."""
    descriptor = Upscaler(ANIME, device="cpu", backend="torch")._descriptor
    network = backends.Network(ANIME, descriptor, torch.device("cuda:1"), torch.float16)
    available = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    (trt, trt_options), (cuda, cuda_options) = backends.ort_providers(network, available)
    assert (trt, cuda) == ("TensorrtExecutionProvider", "CUDAExecutionProvider")
    assert trt_options["trt_fp16_enable"] is True and trt_options["device_id"] == 1
    assert cuda_options == {"device_id": 1}
    with pytest.raises(VsrError, match="no CUDA or TensorRT provider"):
        backends.ort_providers(network, ["CPUExecutionProvider"])
    assert backends.candidates(network) == ["torch", "onnxruntime"]  # ncnn: CPU fp32 only


@needs_cuda
@pytest.mark.parametrize("backend", ["torch", "torch-compile", "onnxruntime"])
def test_cuda_fp16_backends_match_cpu_fp32(backend: str, anime_torch: np.ndarray):
    if backend == "onnxruntime":
        import onnxruntime

        if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
            pytest.skip("onnxruntime-gpu is not installed (requirements-gpu.txt)")
    upscaler = Upscaler(ANIME, device="cuda", precision="fp16", backend=backend)
    assert psnr(upscaler.upscale(crop(67, 93)[None]), anime_torch) >= MIN_PSNR_DB
