"""`make bench`: frames/s of the pipeline against model-only throughput and simple baselines.

All runs use the same frames of the same clip, in one process (ratios, not absolute seconds, are
what carry over between machines):
- model-only: the model alone on frames already in memory (the ceiling for the pipeline);
- pipeline: `vsr upscale` end to end (Snakemake start-up, probe, split, upscale, encode, mux);
- per-frame: built like Real-ESRGAN's video script (FFmpeg pipe in, one fp32 NCHW frame at a
  time, FFmpeg pipe out);
- bicubic: FFmpeg's bicubic x4 and the same encoder: the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from vsr import WORKFLOW_ROOT
from vsr.sample import ClipSpec, make_clip

ENCODE = ["-c:v", "libx264", "-crf", "18", "-preset", "medium", "-pix_fmt", "yuv420p"]


def decode_rgb(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def model_only(model: str, frames: list[np.ndarray], threads: int) -> float:
    from vsr.infer import Upscaler

    upscaler = Upscaler(model, threads=threads)
    upscaler.upscale(frames[0][None])  # warm-up: first call allocates and picks kernels
    start = time.perf_counter()
    for frame in frames:
        upscaler.upscale(frame[None])
    return len(frames) / (time.perf_counter() - start)


def pipeline(clip: Path, out: Path, model: str, cores: int, shard_frames: int) -> float:
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "vsr",
            "upscale",
            str(clip),
            "-o",
            str(out),
            "--model",
            model,
            "--cores",
            str(cores),
            "--shard-frames",
            str(shard_frames),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def per_frame_baseline(clip: Path, out: Path, model: str, threads: int) -> float:
    """The per-frame design users complain about: pipes, one fp32 NCHW frame at a time."""
    import torch

    from vsr.models.registry import load_model

    torch.set_num_threads(threads)
    net = load_model(model).eval()
    width, height = _size(clip)
    start = time.perf_counter()
    reader = subprocess.Popen(
        ["ffmpeg", "-v", "error", "-i", str(clip), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        stdout=subprocess.PIPE,
    )
    writer = subprocess.Popen(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{4 * width}x{4 * height}",
            "-framerate",
            _rate(clip),
            "-i",
            "-",
            "-i",
            str(clip),
            "-map",
            "0:v",
            "-map",
            "1:a?",
            "-c:a",
            "copy",
            *ENCODE,
            str(out),
        ],
        stdin=subprocess.PIPE,
    )
    frame_bytes = width * height * 3
    frames = 0
    with torch.inference_mode():
        while chunk := reader.stdout.read(frame_bytes):
            img = np.frombuffer(chunk, np.uint8).reshape(height, width, 3).astype(np.float32) / 255
            tensor = torch.from_numpy(np.transpose(img, (2, 0, 1))).unsqueeze(0)
            output = net(tensor).squeeze(0).clamp_(0, 1).numpy()
            rgb = (np.transpose(output, (1, 2, 0)) * 255.0).round().astype(np.uint8)
            writer.stdin.write(rgb.tobytes())
            frames += 1
    writer.stdin.close()
    writer.wait()
    reader.wait()
    return time.perf_counter() - start


def bicubic(clip: Path, out: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-i",
            str(clip),
            "-vf",
            "scale=iw*4:ih*4:flags=bicubic",
            *ENCODE,
            "-c:a",
            "copy",
            str(out),
        ],
        check=True,
    )
    return time.perf_counter() - start


def _probe_value(clip: Path, entry: str) -> str:
    return subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            f"stream={entry}",
            "-of",
            "csv=p=0",
            str(clip),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def _size(clip: Path) -> tuple[int, int]:
    width, height = _probe_value(clip, "width,height").split(",")
    return int(width), int(height)


def _rate(clip: Path) -> str:
    return _probe_value(clip, "r_frame_rate")


def psnr_between(a: Path, b: Path) -> float:
    fa, fb = decode_rgb(a), decode_rgb(b)
    mse = np.mean([np.mean((x.astype(np.float64) - y) ** 2) for x, y in zip(fa, fb, strict=True)])
    return float("inf") if mse == 0 else float(10 * np.log10(255**2 / mse))


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["model_only", "pipeline", "per_frame", "bicubic"]
    fps = [results["fps"][n] for n in names]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    bars = ax.barh(names, fps, color=["#888", "#2a7", "#c44", "#46c"])
    ax.bar_label(bars, fmt="%.2f fps")
    ax.set_xlabel("frames/s (higher is better)")
    ax.set_title(
        f"{results['model']}, {results['input']} -> x4, {results['frames']} frames, "
        f"{results['threads']} threads"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="realesr-animevideov3")
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--size", default="320x180")
    parser.add_argument("--shard-frames", type=int, default=48)
    parser.add_argument("--out", default=str(WORKFLOW_ROOT / "bench"))
    args = parser.parse_args(argv)
    from vsr.cli import reexec_with_jemalloc

    reexec_with_jemalloc()  # the same allocator as the pipeline's upscale jobs, for every run
    out = Path(args.out)
    work = out / "out"
    work.mkdir(parents=True, exist_ok=True)
    width, height = (int(v) for v in args.size.split("x"))
    clip = make_clip(work / "clip.mp4", ClipSpec(width=width, height=height, frames=args.frames))
    threads = os.cpu_count() or 1
    frames = decode_rgb(clip)

    fps = {"model_only": model_only(args.model, frames, threads)}
    seconds = pipeline(clip, work / "pipeline.mp4", args.model, threads, args.shard_frames)
    fps["pipeline"] = len(frames) / seconds
    fps["per_frame"] = len(frames) / per_frame_baseline(
        clip, work / "per_frame.mp4", args.model, threads
    )
    fps["bicubic"] = len(frames) / bicubic(clip, work / "bicubic.mp4")
    results = {
        "model": args.model,
        "input": args.size,
        "frames": len(frames),
        "threads": threads,
        "fps": fps,
        "ratios": {
            "pipeline_vs_model_only": fps["pipeline"] / fps["model_only"],
            "pipeline_vs_per_frame": fps["pipeline"] / fps["per_frame"],
        },
        "psnr_pipeline_vs_per_frame_db": psnr_between(
            work / "pipeline.mp4", work / "per_frame.mp4"
        ),
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, out / "results.png")
    for name, value in fps.items():
        print(f"{name:>11}: {value:7.2f} frames/s")
    for name, value in results["ratios"].items():
        print(f"{name}: {value:.2f}x")
    print(f"PSNR pipeline vs per-frame: {results['psnr_pipeline_vs_per_frame_db']:.1f} dB")
    print(f"wrote {out / 'results.json'} and {out / 'results.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
