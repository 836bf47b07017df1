"""What one model call costs in memory, and what to do when the device runs out anyway.

`memory_budget_mb` covers everything the Upscaler holds on the device for a call: the model's
activations (per *input* pixel, measured), and the fp32 work buffers at *output* size that
live beside them: the rounding copy of the output, the tiled path's blend accumulators, and
the on-device RGB -> I420 conversion. At 4x those buffers are 16 output pixels per input pixel,
so a 1080p frame's accumulators alone are ~0.5 GB.
"""

from __future__ import annotations

import math
import re

# Peak activation memory per *input* pixel at fp32, by spandrel architecture id: peak-RSS growth
# of one CPU forward pass divided by its pixels (320x180 to 640x360 inputs, NCHW, the worse case).
# The table is measured on the CPU; a GPU that runs out anyway is handled by the OOM retry.
ACTIVATION_BYTES_PER_PIXEL = {"Compact": 1_600, "ESRGAN": 14_000, "DAT": 17_000, "bicubic": 400}
UNKNOWN_ARCH_BYTES_PER_PIXEL = 32_000  # conservative: transformers keep attention maps
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


def fit(batch_size: int, fits: int, limit: bool) -> int:
    """Items per model call: batch_size, reduced (never below 1) to what fits the budget."""
    return max(1, min(batch_size, fits)) if limit else batch_size
