"""What one model call and one upscale job cost in memory, known before they run (torch is
imported only to recognise an out-of-memory error), and what to do when the device runs out anyway.

`memory_budget_mb` covers everything the Upscaler holds on the device for a call: the model's
activations (per *input* pixel, measured), and the fp32 work buffers at *output* size that
live beside them: the rounding copy of the output, the tiled path's blend accumulators, and
the on-device RGB -> I420 conversion. Both follow the model's scale: the network's body works at
the input's size, its output and everything after it at the output's size.
"""

from __future__ import annotations

import functools
import math
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vsr.models.spec import ModelSpec

# Per output pixel: the fp32 copy `_store` rounds (RGB, 12 bytes).
STORE_BYTES_PER_PIXEL = 12
# Per output pixel of a tiled frame: fp32 RGB sum (12 bytes) and fp32 weight sum (4 bytes).
ACCUMULATOR_BYTES_PER_PIXEL = 16
# Per output pixel, on-device RGB -> I420: fp32 RGB copy (12), YUV (12), luma (4 + 1),
# chroma and the packed planes (~3), rounded up for the allocator.
I420_BYTES_PER_PIXEL = 36
TILE_MULTIPLE = 8
MIN_TILE = 32

OOM_PATTERN = re.compile(
    r"out of memory|failed to allocate memory|ALLOC_FAILED|cudaErrorMemoryAllocation", re.I
)


def auto_tile(pixels_per_call: int, overlap: int) -> int:
    """Largest square tile (a multiple of 8) whose forward pass fits the budget."""
    side = math.isqrt(max(pixels_per_call, 1)) // TILE_MULTIPLE * TILE_MULTIPLE
    return max(side, smallest_tile(overlap))


def smallest_tile(overlap: int) -> int:
    return max(MIN_TILE, 2 * overlap + TILE_MULTIPLE)


def halved_tile(tile: int, overlap: int) -> int | None:
    """Half the tile side (a multiple of 8), or None below the smallest useful tile."""
    half = tile // 2 // TILE_MULTIPLE * TILE_MULTIPLE
    return half if half >= smallest_tile(overlap) else None


def is_out_of_memory(error: BaseException) -> bool:
    """torch's CUDA OOM, or ONNX Runtime's (its errors are RuntimeException/Fail with the CUDA
    allocator's text)."""
    import torch

    if isinstance(error, torch.OutOfMemoryError):
        return True
    if type(error).__module__.startswith("onnxruntime"):
        return bool(OOM_PATTERN.search(str(error)))
    # cuDNN and cuBLAS failing to get workspace reach torch as plain RuntimeErrors.
    return isinstance(error, RuntimeError) and "_STATUS_ALLOC_FAILED" in str(error)


# `batch_size: 0` and `memory_budget_mb: 0` (the defaults) are sized for the device. On the CPU:
# one frame per call (batching does not help there) within 4096 MB. On a GPU: up to 8 frames
# (or tiles) per call, within 70% of the memory still free once the model is loaded; the rest
# is for cuDNN's workspaces, the allocator's slack and the copies in flight. The out-of-memory
# retry is the safety net where the activation table (measured on the CPU) is too low.
CPU_BATCH = 1
CPU_BUDGET_MB = 4096
GPU_BATCH = 8
GPU_FREE_SHARE = 0.7


def auto_batch(device_type: str) -> int:
    """Frames per model call at most when `batch_size` is 0 (auto)."""
    return GPU_BATCH if device_type == "cuda" else CPU_BATCH


def auto_budget_bytes(device_type: str, free_bytes: int | None) -> int:
    """The memory budget when `memory_budget_mb` is 0 (auto): a share of the GPU's free memory
    (`free_bytes`, as the driver reports it), else the CPU's fixed budget."""
    if device_type == "cuda" and free_bytes:
        return int(free_bytes * GPU_FREE_SHARE)
    return CPU_BUDGET_MB * 2**20


def fit(batch_size: int, fits: int, limit: bool) -> int:
    """Items per model call: batch_size, reduced (never below 1) to what fits the budget."""
    return max(1, min(batch_size, fits)) if limit else batch_size


# Activation bytes per output pixel for a model whose family has no measured figure (a checkpoint
# of an unknown architecture): conservative, as transformers keep attention maps.
UNKNOWN_BYTES_PER_OUTPUT_PIXEL = 2_000
# The families' figures are measured at x4 (`ModelSpec.bytes_per_output_pixel`).
MEASURED_SCALE = 4
# What of it sits at the output's size, per output pixel: plain interpolation is all output
# (400 B per input pixel at x4 = 25 B per output pixel); the networks' output tensors cost the same.
OUTPUT_BYTES_PER_PIXEL = 25

# The job around the model: torch, weights, decoder and encoder threads.
RUNTIME_MB = 1_500
# Output-sized bytes per output pixel held per frame in flight: the float output, the tiled sum
# and its weights (12 + 12 + 4), and uint8 RGB copies in the queues and the writer (4 x 3).
FRAME_BYTES_PER_OUTPUT_PIXEL = 40


def activation_bytes_per_pixel(
    bytes_per_output_pixel: float | None, scale: int, net_scale: int | None = None
) -> float:
    """fp32 bytes per input pixel of one forward pass at `scale`, from the family's measured
    bytes per output pixel (None: not measured); `net_scale`: the network's own scale where a
    fixed resize follows it."""
    per_output = bytes_per_output_pixel or UNKNOWN_BYTES_PER_OUTPUT_PIXEL
    measured = per_output * MEASURED_SCALE**2
    body = max(measured - OUTPUT_BYTES_PER_PIXEL * MEASURED_SCALE**2, 0)
    made = net_scale or scale
    resized = scale**2 if made != scale else 0
    return body + OUTPUT_BYTES_PER_PIXEL * (made**2 + resized)


def upscale_job_mb(
    width: int,
    height: int,
    spec: ModelSpec,
    settings: dict[str, Any],
) -> int:
    """Peak memory (MB) of an upscale job running `spec` on `width`x`height` pictures: the
    runtime, activations (tiling keeps them within `memory_budget_mb`) and the output-sized
    frames. `settings`: the validated config's `upscale` section."""
    # auto (0) as the CPU sizes it: a GPU job's batches and activations live on the device,
    # and the uint8 frames its host holds are well under the float frames counted here.
    batch = settings["batch_size"] or CPU_BATCH
    budget_mb = settings["memory_budget_mb"] or CPU_BUDGET_MB
    scale = spec.scale
    per_pixel = activation_bytes_per_pixel(spec.bytes_per_output_pixel, scale, spec.net_scale)
    activations = min(width * height * batch * per_pixel / 2**20, budget_mb)
    frames = width * height * scale**2 * batch * FRAME_BYTES_PER_OUTPUT_PIXEL / 2**20
    return int(RUNTIME_MB + activations + frames)


@functools.lru_cache(maxsize=64)
def _spec(model: str) -> ModelSpec:
    """The model's spec, once per process: a checkpoint given by path is read to learn it, and
    the workflow asks for every shard's job."""
    from vsr.models.registry import resolve_model

    return resolve_model(model)


def upscale_job_mb_for(settings: dict[str, Any], info: dict[str, Any]) -> int:
    """`upscale_job_mb` for one title: its picture size, and the model at the scale its picture
    plan chose (probe.json)."""
    from vsr.media.model_scale import model_frame, planned

    width, height = model_frame(info, 1)
    return upscale_job_mb(width, height, _spec(planned(info)["model"]), settings)
