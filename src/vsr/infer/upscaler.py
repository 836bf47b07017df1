"""Frames in, upscaled frames out: batched, channels-last, tiled when a frame exceeds a budget.

This is the hot path. Frames go to torch without per-pixel Python: an (N,H,W,3) array viewed as
(N,3,H,W) already *is* channels-last memory, so only one dtype conversion is made on the way in
and one rounding + copy on the way out. Integers are scaled to [0, 1] in fp32 before the cast to
the model's dtype: 16-bit white (65535) does not fit fp16 (max 65504) and would become inf.

On CUDA: copies go through pinned memory on their own stream (vsr.infer.transfer), cuDNN picks
its kernels once per shape (frames and tiles of a shard all have one shape), and a call that
runs out of device memory is retried with half the batch, then half the tile, and logged.
Every output is checked for NaN, which fp16 overflow inside a model turns into black patches.
"""

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from vsr.defaults import section
from vsr.errors import VsrError
from vsr.infer import backends
from vsr.infer.device import PRECISIONS, describe, device_report, resolve_device, resolve_dtype
from vsr.infer.memory import (
    ACCUMULATOR_BYTES_PER_PIXEL,
    STORE_BYTES_PER_PIXEL,
    activation_bytes_per_pixel,
    auto_batch,
    auto_budget_bytes,
    auto_tile,
    fit,
    halved_tile,
    is_out_of_memory,
)
from vsr.infer.transfer import Transfer
from vsr.models.registry import open_model
from vsr.models.weights import ncnn_runtime_files

# A direct caller gets what a workflow run gets: the config's `upscale` defaults.
DEFAULTS = section("upscale")
log = logging.getLogger(__name__)
FULL_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0, np.dtype(np.float32): 1.0}
__all__ = ["FULL_SCALE", "PRECISIONS", "NonFiniteOutput", "Upscaler", "auto_tile", "to_model_input"]


class NonFiniteOutput(VsrError):
    """The model produced NaN for a frame (fp16 overflow inside the network, a broken kernel)."""

    def __init__(self, frame: int, precision: str):
        self.frame = frame
        super().__init__(
            f"frame {frame}", f"the model output is NaN/inf at {precision} (try precision fp32)"
        )


def to_model_input(frames: torch.Tensor, full_scale: float, dtype: torch.dtype) -> torch.Tensor:
    """(N,H,W,3) integer or float frames -> (N,3,H,W) in [0, 1] at `dtype` (channels-last).

    Scaled in fp32 first: uint16 white is 65535, above fp16's largest value (65504)."""
    nchw = frames.permute(0, 3, 1, 2).to(torch.float32)
    if full_scale != 1.0:
        nchw = nchw.mul_(1.0 / full_scale)
    return nchw.to(dtype)


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
        device: str = DEFAULTS["device"],
        precision: str = DEFAULTS["precision"],
        batch_size: int = DEFAULTS["batch_size"],
        tile: int = DEFAULTS["tile"],
        tile_overlap: int = DEFAULTS["tile_overlap"],
        memory_budget_mb: int = DEFAULTS["memory_budget_mb"],
        threads: int | None = None,
        backend: str = DEFAULTS["backend"],
        source_bits: int = 8,
    ):
        # 0: sized for the device (see vsr.infer.memory.auto_batch, auto_budget_bytes)
        _check_positive(batch_size=batch_size or 1, memory_budget_mb=memory_budget_mb or 1)
        if tile < 0 or tile_overlap < 0 or (tile and tile <= 2 * tile_overlap):
            raise VsrError(
                f"tile={tile}", f"must be 0 (auto) or more than 2 x tile_overlap ({tile_overlap})"
            )
        if threads:
            torch.set_num_threads(threads)
        self.device = resolve_device(device)
        spec, self._descriptor = open_model(model)
        self.name: str = spec.name
        # `auto`: per model (what the architecture supports in half), per device and per source
        # (`source_bits`: 10-bit video is not run at bf16, which keeps about 8 bits).
        self.precision = resolve_dtype(
            precision, self.device, self._descriptor, self.name, source_bits
        )
        self.dtype = PRECISIONS[self.precision]
        self._descriptor.to(self.device, self.dtype)
        self._descriptor.model.to(memory_format=torch.channels_last)
        if self.device.type == "cuda":
            # One frame size per shard and one tile size per frame: autotuning pays once.
            torch.backends.cudnn.benchmark = True
        network = backends.Network(
            self.name,
            self._descriptor,
            self.device,
            self.dtype,
            ncnn_runtime_files(spec),
            batch_size or auto_batch(self.device.type),
        )
        # auto: the fastest backend measured on this device; see vsr.infer.backends
        self.backend, self._forward = backends.build(backend, network)
        self.scale: int = self._descriptor.scale
        self.batch_size = batch_size or auto_batch(self.device.type)
        self.tile, self.tile_overlap = tile, tile_overlap
        # The scale comes from the model; a fixed resize after a network runs it at its own.
        net_scale = getattr(self._descriptor.model, "net_scale", None)
        self.bytes_per_pixel = activation_bytes_per_pixel(
            spec.bytes_per_output_pixel, self.scale, net_scale
        ) * (torch.finfo(self.dtype).bits / 32)
        # Auto: what is free once the model (and any backend's engine) is on the device.
        self.budget_bytes = memory_budget_mb * 2**20 or auto_budget_bytes(
            self.device.type, _free_bytes(self.device)
        )
        # TensorRT's engine takes sides up to its shape profile's: larger frames go in tiles.
        self.max_side: int | None = getattr(self._forward, "max_side", None)
        self._transfer = Transfer(self.device)
        self._weights: dict[tuple[int, ...], torch.Tensor] = {}
        # What really computes: ONNX Runtime's CUDA provider runs its fp32 graph whatever was
        # asked, and says which providers loaded.
        runs_at = getattr(self._forward, "precision", self.precision)
        providers = getattr(self._forward, "providers", None)
        self.report = device_report(self.device, runs_at, self.backend, providers)
        log.info("%s: %s", self.name, describe(self.report))

    @property
    def pixels_per_call(self) -> int:
        """Input pixels one model call may hold within the budget (activations only)."""
        return int(self.budget_bytes / self.bytes_per_pixel)

    def plan(
        self, height: int, width: int, out_bytes: int = STORE_BYTES_PER_PIXEL
    ) -> tuple[int, int]:
        """(tile side or 0 for whole frames, frames or tiles per model call) for a frame size.

        `out_bytes`: work memory per output pixel beside the model's activations (the rounding
        copy, or the on-device colour conversion); tiled frames add the blend accumulators."""
        out_pixels = height * width * self.scale**2
        frame_bytes = height * width * self.bytes_per_pixel + out_pixels * out_bytes
        tile = self.tile
        tiled_left = self.budget_bytes - out_pixels * (out_bytes + ACCUMULATOR_BYTES_PER_PIXEL)
        if tile == 0 and frame_bytes > self.budget_bytes:
            tile = auto_tile(int(max(tiled_left, 0) / self.bytes_per_pixel), self.tile_overlap)
        if self.max_side and (tile or max(height, width)) > self.max_side:
            tile = self.max_side
        if tile and (height > tile or width > tile):
            per_tile = min(tile, height) * min(tile, width) * self.bytes_per_pixel
            return tile, fit(self.batch_size, int(tiled_left // per_tile), self.tile == 0)
        return 0, fit(self.batch_size, int(self.budget_bytes // frame_bytes), True)

    @torch.inference_mode()
    def upscale_i420(self, frames: np.ndarray, to_i420: Any) -> np.ndarray:
        """(N,H,W,3) uint8 RGB -> (N, 3sH/2, sW) uint8 I420, converted and quantised on the
        device by `to_i420` (see vsr.infer.colour_device): half the bytes to copy back."""
        count, height, width, _ = frames.shape
        result = np.empty((count, height * self.scale * 3 // 2, width * self.scale), np.uint8)
        out_bytes = getattr(to_i420, "bytes_per_pixel", STORE_BYTES_PER_PIXEL)

        def store(where: slice, upscaled: torch.Tensor) -> None:
            self._transfer.download(to_i420(upscaled), result[where])

        self._upscaled(frames, out_bytes, store)
        return result

    @torch.inference_mode()
    def upscale(self, frames: np.ndarray) -> np.ndarray:
        """(N,H,W,3) uint8/uint16/float32 RGB -> (N,sH,sW,3) of the same dtype.

        Integers use their full range (uint16: 0..65535, e.g. 10-bit video shifted up) and are
        rounded and clipped; float32 is taken and returned in [0, 1]. A frame whose output is
        NaN raises NonFiniteOutput naming it (its index in `frames`).
        """
        full_scale = _check_frames(frames)
        count, height, width, _ = frames.shape
        shape = (count, height * self.scale, width * self.scale, 3)
        result = np.empty(shape, dtype=frames.dtype)

        def store(where: slice, upscaled: torch.Tensor) -> None:
            self._transfer.download(_quantised(upscaled, full_scale), result[where])

        self._upscaled(frames, STORE_BYTES_PER_PIXEL, store)
        return result

    def _upscaled(
        self, frames: np.ndarray, out_bytes: int, store: Callable[[slice, torch.Tensor], None]
    ) -> None:
        """Model call by model call, hand (frames' slice, the model's float output for them) to
        `store` (rounding or colour conversion, then the copy back). A call that runs out of
        device memory, in the model or in `store` (whose output-sized buffers are the largest
        allocations), is retried smaller (see `_shrink`)."""
        full_scale = _check_frames(frames)
        count, height, width, _ = frames.shape
        start = 0
        while start < count:
            tile, per_call = self.plan(height, width, out_bytes)
            step = 1 if tile else per_call
            failure = None
            try:
                self._call(frames[start : start + step], start, full_scale, tile, per_call, store)
            except NonFiniteOutput:
                raise
            except Exception as error:
                if not is_out_of_memory(error):
                    raise
                # Only the text is kept: the traceback would hold the failed call's tensors.
                failure = " ".join(str(error).split())[:120]
            if failure is not None:
                self._shrink(height, width, tile, per_call, failure)
                continue
            start += step

    def _call(
        self,
        frames: np.ndarray,
        first: int,
        full_scale: float,
        tile: int,
        per_call: int,
        store: Callable[[slice, torch.Tensor], None],
    ) -> None:
        """One model call and what follows it; its tensors are freed when it returns or fails."""
        batch = self._to_tensor(frames, full_scale)
        upscaled = self._run_tiled(batch, tile, per_call) if tile else self._forward(batch)
        del batch
        _check_finite(upscaled, first, self.precision)
        store(slice(first, first + len(frames)), upscaled)

    def _shrink(self, height: int, width: int, tile: int, per_call: int, failure: str) -> None:
        """After an out-of-memory error: half the batch while it is over 1, else half the tile
        (the whole frame's longer side to start with); one line when nothing smaller is left."""
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        if per_call > 1:
            self.batch_size = per_call // 2
            change = f"batch {per_call} -> {self.batch_size}"
        else:
            current = tile or max(height, width)
            smaller = halved_tile(current, self.tile_overlap)
            if smaller is None:
                raise VsrError(
                    self.name,
                    f"out of {self.device} memory even at tile {current} "
                    f"({failure}); lower memory_budget_mb or use a smaller model",
                )
            self.tile = smaller
            change = f"tile {tile or 'none'} -> {smaller}"
        self.budget_bytes = max(self.budget_bytes // 2, 1)
        log.warning("%s: out of %s memory; retrying with %s", self.name, self.device, change)

    def _to_tensor(self, frames: np.ndarray, full_scale: float) -> torch.Tensor:
        # NHWC memory viewed as NCHW is channels-last; .to() keeps those strides. Read-only
        # arrays (np.asarray of a PIL image) are copied: torch wants memory it may write.
        writable = frames.flags.writeable
        frames = np.ascontiguousarray(frames) if writable else np.array(frames, order="C")
        return to_model_input(self._transfer.upload(frames), full_scale, self.dtype)

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
        """Blend weights of a tile: built on the device once per kind of tile (which sides it
        shares with a neighbour), not uploaded for every tile."""
        edges = (y > 0, y + tile_h < height, x > 0, x + tile_w < width)
        key = (tile_h, tile_w, *edges)
        if key not in self._weights:
            ramp = max(self.tile_overlap * self.scale, 1)
            rows = ramp_weights(tile_h * self.scale, ramp, edges[0], edges[1])
            cols = ramp_weights(tile_w * self.scale, ramp, edges[2], edges[3])
            self._weights[key] = (rows[:, None] * cols[None, :]).to(self.device)
        return self._weights[key]


def _check_finite(upscaled: torch.Tensor, first: int, precision: str) -> None:
    """NaN survives the model's clamp (inf does not): find the first frame that has any."""
    bad = torch.isnan(upscaled).flatten(1).any(dim=1)
    if bool(bad.any()):
        raise NonFiniteOutput(first + int(bad.nonzero()[0, 0]), precision)


def _quantised(upscaled: torch.Tensor, full_scale: float) -> torch.Tensor:
    """Round to the integer range (the model already clipped to [0, 1]), as NHWC; 8-bit
    results are quantised on the device: 4x less to copy back."""
    values = upscaled.float()
    if full_scale != 1.0:
        values = values.mul_(full_scale).round_()
    if values.device.type != "cpu" and full_scale == FULL_SCALE[np.dtype(np.uint8)]:
        values = values.to(torch.uint8)
    return values.permute(0, 2, 3, 1)


def _check_frames(frames: np.ndarray) -> float:
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise VsrError("frames", f"expected an (N,H,W,3) RGB array, got shape {frames.shape}")
    if frames.dtype not in FULL_SCALE:
        raise VsrError("frames", f"unsupported dtype {frames.dtype} (uint8, uint16, float32)")
    return FULL_SCALE[frames.dtype]


def _free_bytes(device: torch.device) -> int | None:
    """The device's free memory as the driver reports it (None off CUDA), once torch's
    allocator has handed back what calibration and loading left cached."""
    if device.type != "cuda":
        return None
    torch.cuda.empty_cache()
    return int(torch.cuda.mem_get_info(device)[0])


def _check_positive(**values: int) -> None:
    for key, value in values.items():
        if value < 1:
            raise VsrError(f"{key}={value}", "must be at least 1")
