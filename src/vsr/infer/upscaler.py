"""Frames in, upscaled frames out: batched, channels-last, tiled when a frame exceeds a budget.

This is the hot path. Frames go to torch without per-pixel Python: an (N,H,W,3) array viewed as
(N,3,H,W) already *is* channels-last memory, so only one dtype conversion is made on the way in
and one rounding + copy on the way out.
"""

import math
from collections.abc import Iterator

import numpy as np
import torch

from vsr.errors import VsrError
from vsr.infer import backends
from vsr.infer.memory import activation_bytes_per_pixel
from vsr.models import open_model
from vsr.models.registry import _ncnn_files as ncnn_files

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
FULL_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0, np.dtype(np.float32): 1.0}

TILE_MULTIPLE = 8
MIN_TILE = 32


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise VsrError(f"device={device}", "CUDA is not available on this machine")
    try:
        return torch.device(device)
    except RuntimeError as error:
        raise VsrError(f"device={device}", "unknown device (auto, cpu, cuda, cuda:N)") from error


def resolve_dtype(precision: str, device: torch.device) -> torch.dtype:
    if precision not in PRECISIONS:
        raise VsrError(f"precision={precision}", f"unknown precision (one of {list(PRECISIONS)})")
    if precision == "fp16" and device.type != "cuda":
        raise VsrError(f"precision={precision}", "fp16 needs a CUDA device; use fp32 or bf16")
    return PRECISIONS[precision]


def auto_tile(pixels_per_call: int, overlap: int) -> int:
    """Largest square tile (a multiple of 8) whose forward pass fits the budget."""
    side = math.isqrt(max(pixels_per_call, 1)) // TILE_MULTIPLE * TILE_MULTIPLE
    return max(side, MIN_TILE, 2 * overlap + TILE_MULTIPLE)


def window_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile origins along one axis: stride tile-overlap, the last one flush with the edge."""
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, tile - overlap))
    return [*starts, length - tile]


def ramp_weights(size: int, ramp: int, rise: bool, fall: bool) -> torch.Tensor:
    """1-D blend weights: linear ramps over the overlap on sides shared with a neighbour."""
    weights = torch.ones(size)
    steps = (torch.arange(ramp, dtype=torch.float32) + 0.5) / ramp
    if rise:
        weights[:ramp] = steps
    if fall:
        weights[size - ramp :] = torch.minimum(weights[size - ramp :], steps.flip(0))
    return weights


class Upscaler:
    """A loaded model ready to upscale batches of RGB frames (see `upscale`)."""

    def __init__(
        self,
        model: str,
        device: str = "auto",
        precision: str = "fp32",
        batch_size: int = 1,
        tile: int = 0,
        tile_overlap: int = 16,
        memory_budget_mb: int = 2048,
        threads: int | None = None,
        backend: str = "torch",
    ):
        _check_positive(batch_size=batch_size, memory_budget_mb=memory_budget_mb)
        if tile < 0 or tile_overlap < 0 or (tile and tile <= 2 * tile_overlap):
            raise VsrError(
                f"tile={tile}", f"must be 0 (auto) or more than 2 x tile_overlap ({tile_overlap})"
            )
        if threads:
            torch.set_num_threads(threads)
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(precision, self.device)
        spec, self._descriptor = open_model(model)
        self.name: str = spec.name
        self._check_precision(precision)
        self._descriptor.to(self.device, self.dtype)
        self._descriptor.model.to(memory_format=torch.channels_last)
        network = backends.Network(
            self.name, self._descriptor, self.device, self.dtype, ncnn_files(spec)
        )
        # auto: the fastest backend measured on this device; see vsr.infer.backends
        self.backend, self._forward = backends.build(backend, network)
        self.scale: int = self._descriptor.scale
        self.batch_size, self.tile, self.tile_overlap = batch_size, tile, tile_overlap
        # The scale comes from the model; a fixed resize after a network runs it at its own.
        net_scale = getattr(self._descriptor.model, "net_scale", None)
        bytes_per_pixel = activation_bytes_per_pixel(
            self._descriptor.architecture.id, self.scale, net_scale
        ) * (torch.finfo(self.dtype).bits / 32)
        self.pixels_per_call = int(memory_budget_mb * 2**20 / bytes_per_pixel)

    def _check_precision(self, precision: str) -> None:
        descriptor = self._descriptor
        if (self.dtype == torch.float16 and not descriptor.supports_half) or (
            self.dtype == torch.bfloat16 and not descriptor.supports_bfloat16
        ):
            raise VsrError(self.name, f"this architecture does not support {precision}")

    def plan(self, height: int, width: int) -> tuple[int, int]:
        """(tile side or 0 for whole frames, frames or tiles per model call) for a frame size."""
        tile = self.tile
        if tile == 0 and height * width > self.pixels_per_call:
            tile = auto_tile(self.pixels_per_call, self.tile_overlap)
        if tile and (height > tile or width > tile):
            per_tile = min(tile, height) * min(tile, width)
            return tile, _fit(self.batch_size, self.pixels_per_call, per_tile, self.tile == 0)
        return 0, _fit(self.batch_size, self.pixels_per_call, height * width, True)

    @torch.inference_mode()
    def upscale_i420(self, frames: np.ndarray, to_i420) -> np.ndarray:
        """(N,H,W,3) uint8 RGB -> (N, 3sH/2, sW) uint8 I420, converted and quantised on the
        device by `to_i420` (see vsr.infer.colour_device): half the bytes to copy back."""
        count, height, width, _ = frames.shape
        result = np.empty((count, height * self.scale * 3 // 2, width * self.scale), np.uint8)
        for where, upscaled in self._upscaled(frames):
            torch.from_numpy(result[where]).copy_(to_i420(upscaled))
        return result

    @torch.inference_mode()
    def upscale(self, frames: np.ndarray) -> np.ndarray:
        """(N,H,W,3) uint8/uint16/float32 RGB -> (N,sH,sW,3) of the same dtype.

        Integers use their full range (uint16: 0..65535, e.g. 10-bit video shifted up) and are
        rounded and clipped; float32 is taken and returned in [0, 1].
        """
        full_scale = _check_frames(frames)
        count, height, width, _ = frames.shape
        shape = (count, height * self.scale, width * self.scale, 3)
        result = np.empty(shape, dtype=frames.dtype)
        for where, upscaled in self._upscaled(frames):
            _store(upscaled, result[where], full_scale)
        return result

    def _upscaled(self, frames: np.ndarray) -> Iterator[tuple[slice, torch.Tensor]]:
        """(frames' slice, the model's float output for them), model call by model call."""
        full_scale = _check_frames(frames)
        count, height, width, _ = frames.shape
        tile, per_call = self.plan(height, width)
        step = 1 if tile else per_call
        for start in range(0, count, step):
            batch = self._to_tensor(frames[start : start + step], full_scale)
            upscaled = self._run_tiled(batch, tile, per_call) if tile else self._forward(batch)
            yield slice(start, start + step), upscaled

    def _to_tensor(self, frames: np.ndarray, full_scale: float) -> torch.Tensor:
        # NHWC memory viewed as NCHW is channels-last; .to() keeps those strides. Read-only
        # arrays (np.asarray of a PIL image) are copied: torch wants memory it may write.
        writable = frames.flags.writeable
        frames = np.ascontiguousarray(frames) if writable else np.array(frames, order="C")
        nchw = torch.from_numpy(frames).to(self.device).permute(0, 3, 1, 2)
        return nchw.to(self.dtype).mul_(1.0 / full_scale)

    def _run_tiled(self, frame: torch.Tensor, tile: int, per_call: int) -> torch.Tensor:
        """Upscale one frame tile by tile; overlapping tiles are cross-faded, leaving no seams."""
        _, _, height, width = frame.shape
        scale, overlap = self.scale, self.tile_overlap
        tile_h, tile_w = min(tile, height), min(tile, width)
        ys, xs = window_starts(height, tile, overlap), window_starts(width, tile, overlap)
        windows = [(y, x) for y in ys for x in xs]
        out = torch.zeros((1, 3, height * scale, width * scale), device=self.device)
        total = torch.zeros((height * scale, width * scale), device=self.device)
        for first in range(0, len(windows), per_call):
            chunk = windows[first : first + per_call]
            crops = torch.cat([frame[..., y : y + tile_h, x : x + tile_w] for y, x in chunk])
            for (y, x), upscaled in zip(chunk, self._forward(crops).float(), strict=True):
                weight = self._tile_weight(y, x, tile_h, tile_w, height, width)
                rows = slice(y * scale, (y + tile_h) * scale)
                cols = slice(x * scale, (x + tile_w) * scale)
                out[0, :, rows, cols] += upscaled * weight
                total[rows, cols] += weight
        return out.div_(total)

    def _tile_weight(
        self, y: int, x: int, tile_h: int, tile_w: int, height: int, width: int
    ) -> torch.Tensor:
        ramp = max(self.tile_overlap * self.scale, 1)
        scale = self.scale
        rows = ramp_weights(tile_h * scale, ramp, y > 0, y + tile_h < height)
        cols = ramp_weights(tile_w * scale, ramp, x > 0, x + tile_w < width)
        return (rows[:, None] * cols[None, :]).to(self.device)


def _fit(batch_size: int, pixels_per_call: int, pixels_per_item: int, limit: bool) -> int:
    """Items per model call: batch_size, reduced (never below 1) to keep within the budget."""
    return max(1, min(batch_size, pixels_per_call // pixels_per_item)) if limit else batch_size


def _store(upscaled: torch.Tensor, dest: np.ndarray, full_scale: float) -> None:
    """Round to the integer range (the model already clipped to [0, 1]) and copy out as NHWC."""
    values = upscaled.float()
    if full_scale != 1.0:
        values = values.mul_(full_scale).round_()
    if values.device.type != "cpu" and full_scale == FULL_SCALE[np.dtype(np.uint8)]:
        values = values.to(torch.uint8)  # quantise on the device: 4x less to copy back
    torch.from_numpy(dest).copy_(values.permute(0, 2, 3, 1))


def _check_frames(frames: np.ndarray) -> float:
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise VsrError("frames", f"expected an (N,H,W,3) RGB array, got shape {frames.shape}")
    if frames.dtype not in FULL_SCALE:
        raise VsrError("frames", f"unsupported dtype {frames.dtype} (uint8, uint16, float32)")
    return FULL_SCALE[frames.dtype]


def _check_positive(**values: int) -> None:
    for key, value in values.items():
        if value < 1:
            raise VsrError(f"{key}={value}", "must be at least 1")
