"""`make bench-scale-factor`: the scale `upscale.scale: auto` picks, against x4 then downscaled.

For each model and case (1080p to 2160p, where auto takes x2; 720p to 2160p, x3), a clip panned
over real photos is probed with `output.size` 3840x2160 and split into one shard; then the
workflow's own step commands run, each in its own process as a cluster job would: `upscale`
(scale auto, then scale 4) and `encode` (the resize after the model, libx264). Each step's timing
record gives wall seconds, core-seconds and peak RSS. DAT-light costs minutes per 1080p frame on
a CPU: it runs on a centre crop of each case (`--dat-crop`, a fraction of each side), output size
scaled alike, and says so in its record.

The quality check: a 1280x720 clip, downscaled to 640x360, is brought back to 1280x720 with
realesr-animevideov3 at auto (x2) and at x4 (lanczos down after the model); PSNR-Y of each final
(lossless encode) against the 1280x720 original.

    python -m vsr.measure.scale_factor [--frames 2] [--models ...] [--out bench/scale-factor.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from vsr.media.sample import ClipSpec, make_clip
from vsr.util import read_json, write_json

VSR_STEP = [sys.executable, "-m", "vsr", "step"]
CASES = {"1080p-to-2160p": (1920, 1080), "720p-to-2160p": (1280, 720)}
TARGET = (3840, 2160)
MODELS = ("bicubic", "realesr-animevideov3", "dat-light")
UPSCALE = {"device": "cpu", "backend": "torch", "allocator": "jemalloc"}
ENCODE = {"codec": "libx264", "crf": 18, "preset": "medium", "options": {}}
LOSSLESS = {"codec": "libx264", "crf": 0, "preset": "ultrafast", "options": {}}


# Models slower than this on the CPU run on a crop of each case; faster than FAST, on 4x the frames.
SLOW_MPX_PER_S, FAST_MPX_PER_S = 0.01, 1.0


def cpu_rate(model: str) -> float:
    """The model's calibrated CPU throughput (source Mpx/s; 0 where not measured)."""
    from vsr.models.catalogue import family_of

    family = family_of(model)
    return (family.cost.get("cpu") if family else None) or 0.0


def step(*args: str) -> None:
    subprocess.run([*VSR_STEP, *args], check=True, stdout=subprocess.DEVNULL)


def prepare(clip: Path, work: Path, size: tuple[int, int]) -> tuple[Path, Path, Path]:
    """probe.json (output.size `size`), the shards folder and its one shard."""
    from vsr.steps.probe import write_probe
    from vsr.steps.split import split

    work.mkdir(parents=True, exist_ok=True)
    probe = work / "probe.json"
    write_probe(clip, probe, {"size": f"{size[0]}x{size[1]}", "crop": "off"})
    shards = work / "shards"
    index = split(str(clip), str(probe), str(shards), 10_000)
    return probe, shards, shards / f"{index['shards'][0]['name']}.mkv"


def run_scale(
    model: str, scale: str, work: Path, prepared: tuple[Path, Path, Path], threads: int, encode
) -> dict[str, Any]:
    """The upscale and encode steps at one `upscale.scale`; their timing records."""
    from vsr.models.registry import model_for_title

    source_probe, shards, shard = prepared
    out = work / f"x{scale}"
    out.mkdir(parents=True, exist_ok=True)
    # The probe step's plan for this model and scale, on the probe made once for the clip.
    info, probe = read_json(source_probe), out / "probe.json"
    info["picture"]["model_scale"] = model_for_title(model, scale, info)
    write_json(probe, info)
    upscaled, final = out / "upscaled.mkv", out / "final.mp4"
    settings = json.dumps(UPSCALE)
    up_timing, enc_timing = out / "upscale.json", out / "encode.json"
    step("upscale", str(shard), str(probe), str(upscaled),
         "--settings", settings, "--threads", str(threads), "--timing", str(up_timing))  # fmt: skip
    step("encode", str(upscaled), str(shards / "index.json"), shard.stem, str(probe), str(final),
         "--settings", json.dumps(encode), "--threads", str(threads),
         "--timing", str(enc_timing))  # fmt: skip
    up, enc = read_json(up_timing), read_json(enc_timing)
    frames = up["frames"]
    record = {
        "model_scale": up["model_scale"],
        "frames": frames,
        "upscale": {key: up[key] for key in ("seconds", "cpu_seconds", "peak_rss_mb")},
        "encode": {key: enc[key] for key in ("seconds", "cpu_seconds", "peak_rss_mb")},
        "upscaled_bytes": upscaled.stat().st_size,
    }
    both_cpu = up["cpu_seconds"] + enc["cpu_seconds"]
    record["upscale_fps"] = up["fps"]  # the frame loop, model loading left out
    record["core_s_per_frame"] = {"upscale": up["cpu_seconds"] / frames, "both": both_cpu / frames}
    record["final"] = str(final)
    return record


def bench_case(
    model: str, case: str, frames: int, threads: int, work: Path, crop: float
) -> dict[str, Any]:
    source = CASES[case]
    fraction = crop if cpu_rate(model) < SLOW_MPX_PER_S else 1.0
    size = tuple(_even(v * fraction) for v in source)
    target = tuple(_even(v * fraction) for v in TARGET)
    folder = work / model / case
    spec = ClipSpec(width=size[0], height=size[1], frames=frames, audio=False, flash_frames=())
    clip = make_clip(folder / "clip.mp4", spec)
    prepared = prepare(clip, folder, target)
    runs = {scale: run_scale(model, scale, folder, prepared, threads, ENCODE) for scale in
            ("auto", "4")}  # fmt: skip
    auto, four = runs["auto"], runs["4"]
    return {
        "model": model,
        "case": case,
        "source": f"{size[0]}x{size[1]}",
        "target": f"{target[0]}x{target[1]}",
        "area_of_case": round(fraction**2, 4),
        "runs": runs,
        "auto_vs_x4": {
            "upscale_fps": auto["upscale_fps"] / four["upscale_fps"],
            "core_s_upscale": auto["upscale"]["cpu_seconds"] / four["upscale"]["cpu_seconds"],
            "core_s_both": auto["core_s_per_frame"]["both"] / four["core_s_per_frame"]["both"],
            "peak_rss_upscale": auto["upscale"]["peak_rss_mb"] / four["upscale"]["peak_rss_mb"],
        },
    }


def quality_check(work: Path, frames: int, threads: int) -> dict[str, Any]:
    """720p -> 640x360 -> 1280x720 with animevideov3: PSNR-Y of auto (x2) and of x4-then-down."""
    from vsr.media.metrics import psnr_y, resize
    from vsr.media.sample import render_frames
    from vsr.media.videoio import read_frames

    folder = work / "quality"
    spec = ClipSpec(width=1280, height=720, frames=frames, audio=False, flash_frames=())
    truth = render_frames(spec)
    low = [resize(frame, 640, 360) for frame in truth]
    clip = _write_lossless(folder / "low.mkv", low)
    prepared = prepare(clip, folder, (1280, 720))
    model = "realesr-animevideov3"
    result: dict[str, Any] = {"source": "640x360", "target": "1280x720", "frames": frames}
    for scale in ("auto", "4"):
        run = run_scale(model, scale, folder, prepared, threads, LOSSLESS)
        finals = [frame.to_ndarray(format="rgb24") for frame in read_frames(run["final"])]
        scores = [psnr_y(out, ref) for out, ref in zip(finals, truth, strict=True)]
        result[f"x{scale}"] = {"model_scale": run["model_scale"], "psnr_y": float(np.mean(scores))}
    result["auto_minus_x4_db"] = result["xauto"]["psnr_y"] - result["x4"]["psnr_y"]
    return result


def _write_lossless(path: Path, frames: list[np.ndarray]) -> Path:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv444p"
        for rgb in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


def print_summary(results: dict[str, Any]) -> None:
    print(f"{'model':22} {'case':15} {'auto':5} {'fps auto/x4':>14} {'core-s/frame':>17} "
          f"{'upscale peak MB':>16}")  # fmt: skip
    for row in results["cases"]:
        auto, four = row["runs"]["auto"], row["runs"]["4"]
        print(
            f"{row['model']:22} {row['case']:15} x{auto['model_scale']['scale']:<4}"
            f" {auto['upscale_fps']:6.3f}/{four['upscale_fps']:<7.3f}"
            f" {auto['core_s_per_frame']['both']:7.1f}/{four['core_s_per_frame']['both']:<9.1f}"
            f" {auto['upscale']['peak_rss_mb']:6.0f}/{four['upscale']['peak_rss_mb']:<6.0f}"
        )
    quality = results.get("quality")
    if quality:
        print(f"quality 360p->720p: auto {quality['xauto']['psnr_y']:.2f} dB, "
              f"x4-then-down {quality['x4']['psnr_y']:.2f} dB")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument(
        "--frames", type=int, default=2, help="frames per clip (bicubic: 4x as many)"
    )
    parser.add_argument("--dat-crop", type=float, default=0.2, help="DAT: fraction of each side")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quality-frames", type=int, default=4, help="0: no quality check")
    parser.add_argument("--work", default="bench/scale-factor-work")
    parser.add_argument("--out", default="bench/scale-factor.json")
    args = parser.parse_args(argv)
    work = Path(args.work)
    results: dict[str, Any] = {"threads": args.threads, "cases": []}
    for model in args.models:
        frames = args.frames * 4 if cpu_rate(model) >= FAST_MPX_PER_S else args.frames
        for case in args.cases:
            row = bench_case(model, case, frames, args.threads, work, args.dat_crop)
            results["cases"].append(row)
            write_json(args.out, results)
    if args.quality_frames:
        results["quality"] = quality_check(work, args.quality_frames, args.threads)
    write_json(args.out, results)
    print_summary(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
