"""The `upscale` step (the GPU job): one lossless shard in, one upscaled lossless shard out, by
the model at the scale the probe's picture plan chose for this title (vsr.media.model_scale).

Decoding, inference and writing run in three threads joined by small queues, so the model never
waits on video I/O (PyAV and torch both release the GIL in their heavy calls). Frames go to the
model in batches, and colour conversion uses the source's own matrix and range both ways.
"""

from __future__ import annotations

import argparse
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import av
import numpy as np

from vsr.defaults import section
from vsr.errors import VsrError
from vsr.infer.temporal import TemporalStabilizer
from vsr.media import colour
from vsr.media.model_scale import planned
from vsr.media.picture import picture_size
from vsr.media.videoio import LosslessWriter, read_frames
from vsr.util import StepTimer, atomic_output, read_json, reexec_with_jemalloc, write_json

log = logging.getLogger(__name__)
_DONE = object()


class ShardProgress:
    """Frames done, frames/s and ETA: logged every few seconds and written to a JSON file."""

    def __init__(self, label: str, total: int, path: str | None, every_s: float = 2.0):
        self.label, self.total, self.path, self.every_s = label, total, path, every_s
        self.done, self.start, self.last = 0, time.perf_counter(), 0.0

    def update(self, frames: int) -> None:
        self.done += frames
        now = time.perf_counter()
        if now - self.last >= self.every_s or self.done >= self.total:
            self.last = now
            self._report(now - self.start)

    def _report(self, elapsed: float) -> None:
        fps = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / fps if fps > 0 else None
        eta_text = f"{eta:.0f} s" if eta is not None else "?"
        log.info(
            "%s: %d/%d frames, %.2f fps, ETA %s", self.label, self.done, self.total, fps, eta_text
        )
        if self.path:
            write_json(
                self.path,
                {
                    "label": self.label,
                    "done": self.done,
                    "total": self.total,
                    "fps": fps,
                    "eta_s": eta,
                    "elapsed_s": elapsed,
                },
            )

    @property
    def fps(self) -> float:
        elapsed = time.perf_counter() - self.start
        return self.done / elapsed if elapsed > 0 else 0.0


def _threaded(produce: Iterator[Any], maxsize: int) -> Iterator[Any]:
    """Run an iterator in a background thread; re-raise its error in the consumer."""
    items: queue.Queue[Any] = queue.Queue(maxsize=maxsize)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            for item in produce:
                items.put(item)
        except BaseException as exc:  # handed to the consumer below
            failure.append(exc)
        finally:
            items.put(_DONE)

    threading.Thread(target=run, daemon=True).start()
    while (item := items.get()) is not _DONE:
        yield item
    if failure:
        raise failure[0]


class _Sink:
    """Consumes items in a background thread; `close` waits and re-raises its error."""

    def __init__(self, consume: Callable[[Any], None], maxsize: int):
        self.items: queue.Queue[Any] = queue.Queue(maxsize=maxsize)
        self.failure: list[BaseException] = []
        self.consume = consume
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (item := self.items.get()) is not _DONE:
            if not self.failure:
                try:
                    self.consume(item)
                except BaseException as exc:
                    self.failure.append(exc)

    def put(self, item: Any) -> None:
        if self.failure:
            raise self.failure[0]
        self.items.put(item)

    def close(self) -> None:
        self.items.put(_DONE)
        self.thread.join()
        if self.failure:
            raise self.failure[0]


def _batches(frames: Iterator[np.ndarray], size: int) -> Iterator[np.ndarray]:
    batch: list[np.ndarray] = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == size:
            yield np.stack(batch)
            batch = []
    if batch:
        yield np.stack(batch)


# Keys of the config's `upscale` section that are `Upscaler` options as they are.
UPSCALER_OPTIONS = (
    "device", "precision", "batch_size", "tile", "tile_overlap", "memory_budget_mb", "backend"
)  # fmt: skip


def make_upscaler(
    model: str, settings: dict[str, Any], threads: int | None = None, source_bits: int = 8
) -> Any:
    """An `Upscaler` configured from the config's `upscale` section, for a source of
    `source_bits` bits per sample (`precision: auto` depends on it)."""
    from vsr.infer.upscaler import (
        Upscaler,  # torch import is slow: only the step that needs it pays
    )

    options = {key: settings[key] for key in UPSCALER_OPTIONS if key in settings}
    return Upscaler(model, threads=threads, source_bits=source_bits, **options)


def upscale_shard(
    shard: str,
    probe_json: str,
    out: str,
    *,
    settings: dict[str, Any] | None = None,
    threads: int | None = None,
    progress_json: str | None = None,
    timing_json: str | None = None,
    make_writer: Callable[..., Any] | None = None,
) -> dict[str, Any]:
    """Upscale every frame of `shard` into the lossless shard `out`, by the model and at the
    scale `probe_json`'s picture plan chose.

    `settings` is the config's `upscale` section (model options and `stabilize`). `make_writer`
    (path, width, height, pix_fmt) -> a writer replaces the lossless one (see steps.fused)."""
    settings = {**section("upscale"), **(settings or {})}
    info = read_json(probe_json)
    video = info["video"]
    rgb_fmt, matrix = colour.rgb_format(video), colour.sws_matrix(video)
    range_, out_fmt = colour.colour_range(video), colour.output_format(video)
    quarter_turns = (video.get("rotation", 0) // 90) % 4
    width, height = picture_size(info)  # after any crop of bars
    if quarter_turns % 2:
        height, width = width, height

    def decoded() -> Iterator[np.ndarray]:
        for frame in read_frames(shard):
            rgb = frame.to_ndarray(format=rgb_fmt, src_colorspace=matrix, src_color_range=range_)
            # Display rotation is applied to the pixels, so the output needs no rotation tag.
            yield np.ascontiguousarray(np.rot90(rgb, quarter_turns)) if quarter_turns else rgb

    with StepTimer("upscale", timing_json) as timer, atomic_output(out) as tmp:
        chosen = planned(info)
        upscaler = make_upscaler(chosen["model"], settings, threads, int(video.get("bit_depth", 8)))
        scale = upscaler.scale
        if scale != chosen["scale"]:
            raise VsrError(chosen["model"], f"makes x{scale}, the picture plan x{chosen['scale']}")
        # GANs add detail that can differ frame to frame; the stabiliser carries it along the
        # camera motion instead (docs/quality.md measures it). 8-bit frames only.
        stabilize = settings["stabilize"]
        stabilizer = (
            TemporalStabilizer(stabilize, scale) if stabilize and rgb_fmt == "rgb24" else None
        )
        writer = (make_writer or _lossless_writer)(tmp, width * scale, height * scale, out_fmt)
        to_i420 = device_colour(settings, upscaler, video, out_fmt, stabilizer is None)

        def write(batch: np.ndarray) -> None:
            if to_i420 is not None:  # already YUV, converted on the model's device
                for planes in batch:
                    writer.write(av.VideoFrame.from_ndarray(planes, format="yuv420p"))
                return
            for rgb in batch:
                frame = av.VideoFrame.from_ndarray(rgb, format=rgb_fmt)
                writer.write(
                    frame.reformat(
                        format=out_fmt,
                        dst_colorspace=matrix,
                        src_color_range="JPEG",
                        dst_color_range=range_,
                    )
                )

        progress = ShardProgress(f"upscale {shard}", _frame_count(shard), progress_json)
        with writer:
            sink = _Sink(write, maxsize=2)
            try:
                for batch in _threaded(_batches(decoded(), upscaler.batch_size), maxsize=2):
                    upscaled = _upscale_batch(upscaler, batch, to_i420, shard, progress.done)
                    if stabilizer is not None:
                        pairs = zip(batch, upscaled, strict=True)
                        upscaled = np.stack([stabilizer.apply(lr, sr) for lr, sr in pairs])
                    sink.put(upscaled)
                    progress.update(len(batch))
            finally:
                sink.close()
        timer.extra.update(
            frames=progress.done,
            fps=progress.fps,
            model=chosen["model"],
            model_scale=chosen,
            device=upscaler.report,
        )
    return {"frames": progress.done, "fps": progress.fps}


def _upscale_batch(upscaler: Any, batch: np.ndarray, to_i420: Any, shard: str, done: int) -> Any:
    """One batch through the model; a NaN output names the shard and its frame number."""
    from vsr.infer.upscaler import NonFiniteOutput

    try:
        if to_i420 is None:
            return upscaler.upscale(batch)
        return upscaler.upscale_i420(batch, to_i420)
    except NonFiniteOutput as error:
        raise VsrError(shard, f"frame {done + error.frame}: {error.problem}") from None


def device_colour(
    settings: dict[str, Any], upscaler: Any, video: dict[str, Any], out_fmt: str, plain: bool
) -> Any:
    """The on-device RGB -> I420 converter, or None for swscale on the CPU.

    `colour: auto` converts on the device where it is a GPU (on a CPU swscale is faster); 8-bit
    4:2:0 output only, and not with the temporal stabiliser (it works on RGB frames)."""
    choice = settings["colour"]
    device = getattr(upscaler, "device", None)
    wanted = choice == "device" or (choice == "auto" and getattr(device, "type", "") == "cuda")
    if not (wanted and plain and out_fmt == "yuv420p" and colour.rgb_format(video) == "rgb24"):
        return None
    from vsr.infer.colour_device import ToI420

    return ToI420(colour.sws_matrix(video), colour.colour_range(video), device)


def _lossless_writer(path: Any, width: int, height: int, pix_fmt: str) -> LosslessWriter:
    return LosslessWriter(path, width, height, pix_fmt, codec="x264")


def _frame_count(path: str) -> int:
    with av.open(path) as container:
        return int(container.streams.video[0].frames or 0) or sum(
            1 for _ in container.demux(container.streams.video[0]) if _.size
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shard")
    parser.add_argument("probe")
    parser.add_argument("out")
    parser.add_argument("--settings", default="{}", help="JSON: the config's `upscale` section")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--progress")
    parser.add_argument("--timing")


def upscale_settings(text: str) -> dict[str, Any]:
    """The config's `upscale` section given to a step as JSON; with the default allocator the
    step restarts itself once with jemalloc preloaded (before any model memory is touched)."""
    settings = {**section("upscale"), **json.loads(text)}
    if settings["allocator"] == "jemalloc":
        reexec_with_jemalloc()
    return settings


def run(args: argparse.Namespace) -> None:
    """`vsr step upscale SHARD PROBE OUT [--settings JSON] [--progress JSON]`: the
    upscaled lossless shard OUT; frames done/total/fps rewritten into the progress JSON while it
    runs."""
    settings = upscale_settings(args.settings)
    upscale_shard(
        args.shard,
        args.probe,
        args.out,
        settings=settings,
        threads=args.threads,
        progress_json=args.progress,
        timing_json=args.timing,
    )
