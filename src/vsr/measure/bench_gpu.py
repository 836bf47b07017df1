"""Throughput of the models on a CUDA GPU: frames/s, share of the device's peak, VRAM.

`python -m vsr.measure.bench --gpu-only` runs every model x backend here, each in its own
process; without CUDA there is nothing to measure and the list is empty.
"""

from __future__ import annotations

import re
import subprocess
import time
from typing import Any

import numpy as np

from vsr.measure.bench_cost import model_flops
from vsr.measure.bench_worker import environments, run_worker

# Dense fp16 tensor-core peaks (TFLOP/s, vendor datasheets) by model name (see gpu_fp16_peak).
GPU_FP16_PEAK_TFLOPS = {
    "H200": 989.0,
    "H100 PCIe": 756.0,
    "H100": 989.0,
    "A100": 312.0,
    "L40S": 362.0,
    "L40": 181.0,
    "L4": 121.0,
    "A10G": 70.0,
    "A10": 125.0,
    "T4": 65.0,
    "V100": 125.0,
}
GPU_SIZE = (480, 640)  # (height, width): 640x480 -> 2560x1920
GPU_BACKENDS = ("torch", "torch-compile", "onnxruntime")


def gpu_fp16_peak(name: str) -> float | None:
    """The datasheet fp16 peak for a device name (None: not in the table), matching whole model
    names, longest first: an "NVIDIA L40S" is not an L4 and an "NVIDIA A10G" not an A10."""
    for key in sorted(GPU_FP16_PEAK_TFLOPS, key=len, reverse=True):
        if re.search(rf"(?<!\w){re.escape(key)}(?!\w)", name):
            return GPU_FP16_PEAK_TFLOPS[key]
    return None


def gpu_fp16(model: str, backend: str, frames: int, batch_size: int) -> dict[str, Any]:
    """Frames/s at 640x480 on the CUDA GPU at precision auto (fp16 where the model supports
    it; the precision actually computed is reported), VRAM, and the share of the fp16 peak."""
    import torch

    from vsr.infer.upscaler import Upscaler

    height, width = GPU_SIZE
    # Whole frames: the default budget is sized for host memory, not an 80 GB GPU.
    options = dict(device="cuda", precision="auto", batch_size=batch_size, memory_budget_mb=32768)
    upscaler = Upscaler(model, backend=backend, **options)
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, (batch_size, height, width, 3), dtype=np.uint8)
    upscaler.upscale(batch)  # warm-up: kernels, engines, allocator
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    calls = max(1, frames // batch_size)
    start = time.perf_counter()
    for _ in range(calls):
        upscaler.upscale(batch)  # frames in and out of host memory, as in the upscale step
    torch.cuda.synchronize()
    fps = calls * batch_size / (time.perf_counter() - start)
    name = torch.cuda.get_device_name()
    peak = gpu_fp16_peak(name)
    achieved = fps * model_flops(model, height, width) / 1e12
    free, total = torch.cuda.mem_get_info()
    return {
        "device": name,
        "backend": upscaler.backend,
        # What really computed: ONNX Runtime's CUDA provider runs fp32 whatever was asked.
        "precision": upscaler.report["precision"],
        "providers": upscaler.report["providers"],
        # torch's allocator only; ONNX Runtime's arena is outside it, so also the device-wide
        # use after the run (both keep their peak blocks cached).
        "vram_device_used_mb": (total - free) / 2**20,
        "batch_size": batch_size,
        "fps": fps,
        "tflops": achieved,
        "peak_fraction": achieved / peak if peak else None,
        "vram_peak_mb": torch.cuda.max_memory_allocated() / 2**20,
    }


def gpu_runs(models: list[str], frames: int) -> list[dict[str, Any]]:
    """Every model x backend on the GPU (each in its own process); empty without CUDA."""
    import torch

    if not torch.cuda.is_available():
        return []
    fast_env, _ = environments()
    runs = []
    for model in models:
        for backend in GPU_BACKENDS:
            options = dict(model=model, backend=backend, frames=frames, batch_size=4)
            try:
                result = run_worker("gpu", fast_env, **options)
            except subprocess.CalledProcessError as error:
                print(f"  gpu {model} {backend}: failed ({error.stderr.strip()[-300:]})")
                continue
            label = result.get("precision", "fp16")
            print(f"  gpu {model} {backend}: {result['fps']:.1f} frames/s {label} 640x480")
            runs.append({"model": model, **result})
    return runs
