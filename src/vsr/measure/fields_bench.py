"""Cost of field handling against the model's time: the same SD-shaped interlaced and telecined
frames through each field mode (bwdif at frame and field rate, inverse telecine) and the probe's
scan (windows and film map, per source frame), timed beside the model on the pictures it would
be given. Part of `make bench` (`fields` in bench/results.json)."""

from __future__ import annotations

import subprocess
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from vsr.media.fields import FieldPipeline
from vsr.media.sample import ClipSpec, make_clip

MODES = {"bwdif_frame": "tff", "bwdif_field": "tff", "ivtc": "hard"}


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=600)


def _sources(folder: Path, width: int, height: int, frames: int) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    v60 = make_clip(
        folder / "v60.mp4",
        ClipSpec(width=width, height=height, frames=2 * frames, rate="60000/1001", audio=False),
    )
    film = make_clip(
        folder / "film.mp4",
        ClipSpec(
            width=width, height=height, frames=frames * 4 // 5, rate="24000/1001", audio=False
        ),
    )
    mpeg2 = ["-c:v", "mpeg2video", "-flags", "+ildct+ilme", "-top", "1", "-q:v", "2"]
    _ffmpeg("-i", str(v60), "-vf", "tinterlace=interleave_top,setfield=tff", *mpeg2,
            str(folder / "tff.mpg"))  # fmt: skip
    _ffmpeg("-i", str(film), "-vf", "telecine=pattern=23", *mpeg2, str(folder / "hard.mpg"))
    return {"tff": folder / "tff.mpg", "hard": folder / "hard.mpg"}


def _decoded(path: Path) -> tuple[dict[str, Any], list[av.VideoFrame]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        video = {
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "time_base": str(stream.time_base),
            "frame_rate": str(stream.average_rate or Fraction(30000, 1001)),
            "sample_aspect_ratio": "1/1",
        }
    return video, frames


def _scan_cost(source: Path) -> dict[str, Any]:
    """The probe's scan of a telecined title: its windows and the film map (whole-title field
    matching), per source frame."""
    from vsr.media.probe import probe
    from vsr.media.scan import scan

    video = probe(source)["video"]
    start = time.perf_counter()
    scan(source, video)
    seconds = time.perf_counter() - start
    return {"frames_in": video["frames"], "frames_out": video["frames"], "seconds": seconds}


def field_cost(
    model: str, folder: Path, threads: int, width: int = 320, height: int = 240, frames: int = 60
) -> dict[str, Any]:
    """Seconds per source frame of each field mode, the model's seconds per frame on the same
    pictures, and their ratio (the issue's bound: under 5%)."""
    sources = _sources(folder, width, height, frames)
    modes: dict[str, Any] = {}
    pictures = None
    for mode, source in MODES.items():
        video, decoded = _decoded(sources[source])
        info = {"video": video, "picture": {"fields": {"mode": mode, "order": "tff"}}}
        if mode == "ivtc":
            info["picture"]["fields"]["frame_rate"] = "24000/1001"
        elif mode == "bwdif_field":
            info["picture"]["fields"]["frame_rate"] = str(Fraction(video["frame_rate"]) * 2)
        best = None
        for _ in range(2):
            start = time.perf_counter()
            out = list(FieldPipeline(info).run(iter(decoded)))
            seconds = time.perf_counter() - start
            best = seconds if best is None else min(best, seconds)
        modes[mode] = {"frames_in": len(decoded), "frames_out": len(out), "seconds": best}
        if mode == "bwdif_frame":
            pictures = [f.to_ndarray(format="rgb24") for f in out]
    modes["scan"] = _scan_cost(sources["hard"])
    from vsr.infer.upscaler import Upscaler

    upscaler = Upscaler(model, threads=threads)
    upscaler.upscale(pictures[0][None])
    start = time.perf_counter()
    for picture in pictures:
        upscaler.upscale(picture[None])
    model_s = (time.perf_counter() - start) / len(pictures)
    for entry in modes.values():
        # Per output frame: each one costs the model once.
        entry["s_per_output_frame"] = entry["seconds"] / entry["frames_out"]
        entry["share_of_model"] = entry["s_per_output_frame"] / model_s
    return {
        "model": model,
        "size": f"{width}x{height}",
        "model_s_per_frame": model_s,
        "modes": modes,
    }


def print_field_cost(entry: dict[str, Any]) -> None:
    print(
        f"field handling ({entry['size']}, model {entry['model']} "
        f"{entry['model_s_per_frame'] * 1000:.0f} ms/frame):"
    )
    for mode, m in entry["modes"].items():
        print(
            f"  {mode:>11}: {m['s_per_output_frame'] * 1000:6.2f} ms/frame "
            f"({100 * m['share_of_model']:.2f}% of the model's time)"
        )
