"""Core-seconds per output frame outside the model, for both intermediate designs, vs the floor.

The floor is what FFmpeg alone needs for the same job: decode the source, scale 4x with bicubic,
encode with the pipeline's encoder settings (one command, one thread each). The pipeline runs the
same clip through the workflow's own step commands, one process per step as the Slurm jobs do
(probe, split, per shard upscale + encode or the fused upscale_encode, assemble) with the
`bicubic` model; the model's own cost (Upscaler.upscale on the same frames, in-process) is
subtracted. Everything runs on one thread, so core-seconds are not blurred by thread scaling.

    python -m vsr.measure.overhead [--frames 48] [--shard-frames 24] [--out bench/overhead.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from vsr.measure.encoding import ENCODE, ffmpeg_encode_args
from vsr.media.sample import ClipSpec, make_clip

VSR_STEP = [sys.executable, "-m", "vsr", "step"]
FUSED = [sys.executable, "-m", "vsr", "step", "fused"]
UPSCALE = {"backend": "torch", "device": "cpu", "allocator": "jemalloc"}


def children_cpu() -> float:
    """CPU seconds of every finished child process tree (all their threads and descendants)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str]) -> float:
    """Core-seconds of one command (its whole process tree)."""
    before = children_cpu()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return children_cpu() - before


def floor(clip: Path, out: Path) -> float:
    encode = ffmpeg_encode_args(threads=1)
    scale = ["-vf", "scale=iw*4:ih*4:flags=bicubic", "-filter_threads", "1"]
    command = ["ffmpeg", "-v", "error", "-y", "-threads", "1", "-i", str(clip)]
    return timed([*command, *scale, *encode, "-an", str(out)])


def model_seconds(shards: list[Path]) -> float:
    """Process CPU time of Upscaler.upscale('bicubic') over every frame (frames decoded first)."""
    from vsr.infer.upscaler import Upscaler
    from vsr.media.videoio import read_frames

    upscaler = Upscaler("bicubic", device="cpu", threads=1, backend="torch")
    total = 0.0
    for shard in shards:
        for frame in read_frames(shard):
            rgb = frame.to_ndarray(format="rgb24")[None]
            start = time.process_time()
            upscaler.upscale(rgb)
            total += time.process_time() - start
    return total


def pipeline(clip: Path, work: Path, shard_frames: int, design: str) -> dict[str, Any]:
    """Core-seconds per step of one design, and the bytes of 4x intermediates it wrote."""
    work.mkdir(parents=True, exist_ok=True)
    probe, shards = work / "probe.json", work / "shards"
    seconds: dict[str, float] = {}
    seconds["probe"] = timed([*VSR_STEP, "probe", str(clip), str(probe), "--model", "bicubic"])
    seconds["split"] = timed(
        [
            *VSR_STEP,
            "split",
            str(clip),
            str(probe),
            str(shards),
            "--shard-frames",
            str(shard_frames),
        ]
    )
    names = sorted(p.stem for p in shards.glob("*.mkv"))
    segments, upscaled_bytes = [], 0
    seconds["upscale"] = seconds["encode"] = 0.0
    up, enc = json.dumps(UPSCALE), json.dumps(ENCODE)
    index = str(shards / "index.json")
    for name in names:
        shard, segment = shards / f"{name}.mkv", work / "segments" / f"{name}.mp4"
        segment.parent.mkdir(exist_ok=True)
        model = ["--settings", up, "--threads", "1"]
        if design == "none":
            seconds["upscale"] += timed(
                [*FUSED, str(shard), str(probe), index, name, str(segment), *model, "--encode", enc]
            )
        else:
            upscaled = work / "upscaled" / f"{name}.mkv"
            seconds["upscale"] += timed(
                [*VSR_STEP, "upscale", str(shard), str(probe), str(upscaled), *model]
            )
            upscaled_bytes += upscaled.stat().st_size
            seconds["encode"] += timed(
                [*VSR_STEP, "encode", str(upscaled), index, name, str(probe), str(segment)]
                + ["--settings", enc, "--threads", "1"]
            )
        segments.append(str(segment))
    final = work / "final.mp4"
    seconds["assemble"] = timed(
        [*VSR_STEP, "assemble", str(clip), str(probe), str(final), "--segments", *segments]
    )
    return {
        "core_seconds": seconds,
        "total": sum(seconds.values()),
        "upscaled_bytes": upscaled_bytes,
        "shards": names,
    }


def measure(work: Path, frames: int, shard_frames: int, width: int, height: int) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    clip = make_clip(work / "clip.mp4", ClipSpec(width=width, height=height, frames=frames))
    floor_s = floor(clip, work / "floor.mp4")
    designs = {d: pipeline(clip, work / d, shard_frames, d) for d in ("lossless", "none")}
    model_s = model_seconds(sorted((work / "none" / "shards").glob("*.mkv")))
    result: dict[str, Any] = {
        "clip": f"{width}x{height}, {frames} frames, {shard_frames}-frame shards",
        "encoder": "libx264 crf 18 preset medium, 1 thread",
        "floor_core_s_per_frame": floor_s / frames,
        "model_core_s_per_frame": model_s / frames,
    }
    for name, design in designs.items():
        outside = (design["total"] - model_s) / frames
        result[name] = {
            "core_s_per_frame": {k: v / frames for k, v in design["core_seconds"].items()},
            "total_core_s_per_frame": design["total"] / frames,
            "outside_model_core_s_per_frame": outside,
            "outside_model_vs_floor": outside / (floor_s / frames),
            "upscaled_mb_per_frame": design["upscaled_bytes"] / frames / 1e6,
        }
    return result


def save(result: Any, out: Path) -> int:
    """Write a measurement's JSON and print it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--shard-frames", type=int, default=24)
    p.add_argument("--size", default="640x480")
    p.add_argument("--work", default="bench/overhead-work")
    p.add_argument("--out", default="bench/overhead.json")
    args = p.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    result = measure(Path(args.work), args.frames, args.shard_frames, width, height)
    return save(result, Path(args.out))


if __name__ == "__main__":
    raise SystemExit(main())
