"""The four CPU runs `make bench` compares, on the same frames of the same clip.

- model-only: the pipeline's Upscaler (backend `auto`, jemalloc) on frames already in memory,
  one frame per call: the ceiling for the pipeline;
- pipeline: `vsr upscale` end to end (Snakemake start-up, probe, split, upscale, encode, mux);
- per-frame: built like Real-ESRGAN's video script (FFmpeg pipe in, one fp32 NCHW torch frame
  at a time, FFmpeg pipe out, the default allocator);
- bicubic: FFmpeg's bicubic x4 and the same encoder: the floor.

The per-frame baseline converts RGB to YUV with the same swscale settings as the pipeline
(bilinear, BT.601 limited for these SD clips) and gives libx264 the same settings and thread
count as the pipeline's encode step (`vsr.measure.encoding`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from vsr.layout import upscale_video_paths, upscale_work_dir
from vsr.measure.encoding import ffmpeg_encode_args
from vsr.measure.overhead import children_cpu

RUNS = ("model_only", "pipeline", "per_frame", "bicubic")
# Model-only backends compared by `--backends`; torch-nchw is the per-frame baseline's model.
BACKEND_RUNS = ("torch-nchw", "torch", "torch-compile", "onnxruntime", "ncnn")
ENCODE_THREADS = 2  # the encode rule's `threads:` (rules/encode.smk), scaled down to --cores
# PyAV's reformat default (what the pipeline's upscale step uses): bilinear. FFmpeg's CLI
# defaults to bicubic, which alone would make the two outputs differ.
SWS_FLAGS = ["-sws_flags", "bilinear"]
KEPT_FRAMES = 12  # baseline frames kept (evenly spaced) for the like-for-like comparison


def decode_rgb(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def model_only(model: str, clip: Path, threads: int, backend: str = "auto") -> dict[str, Any]:
    """The pipeline's Upscaler on decoded frames (`auto` calibrates once, cached)."""
    frames = decode_rgb(clip)
    if backend == "torch-nchw":
        upscale, backend_name = eager_nchw(model, threads), backend
    else:
        from vsr.infer.upscaler import Upscaler

        upscaler = Upscaler(model, threads=threads, backend=backend)
        upscale, backend_name = upscaler.upscale, upscaler.backend
    upscale(frames[0][None])  # warm-up: first call allocates, picks kernels (or compiles)
    start, cpu_start = time.perf_counter(), time.process_time()
    for frame in frames:
        upscale(frame[None])
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "backend": backend_name}


def eager_nchw(model: str, threads: int):
    """The per-frame baseline's model call: eager torch, fp32, NCHW, one frame."""
    import torch

    from vsr.models.registry import load_model

    torch.set_num_threads(threads)
    net = load_model(model).eval()

    @torch.inference_mode()
    def upscale(frames: np.ndarray) -> np.ndarray:  # (N,H,W,3) uint8 -> (N,4H,4W,3) uint8
        tensor = torch.from_numpy(frames.transpose(0, 3, 1, 2).astype(np.float32) / 255)
        output = net(tensor).clamp_(0, 1).permute(0, 2, 3, 1).numpy()
        return (output * 255.0).round().astype(np.uint8)

    return upscale


def per_frame_baseline(model: str, clip: Path, out: Path, threads: int) -> dict[str, Any]:
    """The per-frame design users complain about: pipes, one fp32 NCHW frame at a time."""
    upscale = eager_nchw(model, threads)
    width, height = _size(clip)
    count = int(_probe_value(clip, "nb_frames") or 0)
    keep_every = max(1, count // KEPT_FRAMES)
    kept: list[np.ndarray] = []
    start = time.perf_counter()
    reader = subprocess.Popen(_reader_command(clip), stdout=subprocess.PIPE)
    writer_command = _writer_command(clip, out, width, height, threads)
    writer = subprocess.Popen(writer_command, stdin=subprocess.PIPE)
    frame_bytes, index = width * height * 3, 0
    while chunk := reader.stdout.read(frame_bytes):
        rgb = upscale(np.frombuffer(chunk, np.uint8).reshape(1, height, width, 3))[0]
        writer.stdin.write(rgb.tobytes())
        if index % keep_every == 0:
            kept.append(rgb)
        index += 1
    writer.stdin.close()
    writer.wait()
    reader.wait()
    seconds = time.perf_counter() - start
    np.save(out.with_suffix(".kept.npy"), np.stack(kept))
    return {"seconds": seconds, "keep_every": keep_every}


def _reader_command(clip: Path) -> list[str]:
    return ["ffmpeg", "-v", "error", "-i", str(clip), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]


def _writer_command(clip: Path, out: Path, width: int, height: int, threads: int) -> list[str]:
    raw = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{4 * width}x{4 * height}"]
    inputs = [*raw, "-framerate", _rate(clip), "-i", "-", "-i", str(clip)]
    streams = ["-map", "0:v", "-map", "1:a?", "-c:a", "copy"]
    encode = [*SWS_FLAGS, *_encode_args(threads)]
    return ["ffmpeg", "-v", "error", "-y", *inputs, *streams, *encode, str(out)]


def _encode_args(threads: int) -> list[str]:
    return ffmpeg_encode_args(min(ENCODE_THREADS, threads))


def pipeline(model: str, clip: Path, out: Path, cores: int, shard_frames: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "vsr", "upscale", str(clip), "-o", str(out)]
    command += ["--model", model, "--cores", str(cores), "--shard-frames", str(shard_frames)]
    shutil.rmtree(upscale_work_dir(out), ignore_errors=True)  # else Snakemake skips it all
    start, cpu_start = time.perf_counter(), children_cpu()
    subprocess.run([*command, "--keep-work"], check=True, stdout=subprocess.DEVNULL)
    seconds, cpu_seconds = time.perf_counter() - start, children_cpu() - cpu_start
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "steps": step_seconds(out)}


def step_seconds(pipeline_out: Path) -> dict[str, float]:
    """Seconds per workflow step (summed over shards), from the steps' timing files, their CPU
    seconds (`<step>_cpu`), and `upscale_loop`: the upscale steps' frame loops alone (no model
    load), from their frames/s."""
    totals: dict[str, float] = {}
    for path in sorted(upscale_video_paths(pipeline_out).timings.glob("*.json")):
        record = json.loads(path.read_text())
        totals[record["step"]] = totals.get(record["step"], 0.0) + record["seconds"]
        cpu_key = f"{record['step']}_cpu"
        totals[cpu_key] = totals.get(cpu_key, 0.0) + record.get("cpu_seconds", 0.0)
        if record["step"] == "upscale":
            loop = record["frames"] / record["fps"]
            totals["upscale_loop"] = totals.get("upscale_loop", 0.0) + loop
    return totals


def bicubic(clip: Path, out: Path, threads: int) -> dict[str, Any]:
    scale = ["-vf", "scale=iw*4:ih*4:flags=bicubic", *_encode_args(threads)]
    command = ["ffmpeg", "-v", "error", "-y", "-i", str(clip), *scale, "-c:a", "copy"]
    start = time.perf_counter()
    subprocess.run([*command, str(out)], check=True)
    return {"seconds": time.perf_counter() - start}


def _probe_value(clip: Path, entry: str) -> str:
    command = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries"]
    command += [f"stream={entry}", "-of", "csv=p=0", str(clip)]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def _size(clip: Path) -> tuple[int, int]:
    width, height = _probe_value(clip, "width,height").split(",")
    return int(width), int(height)


def _rate(clip: Path) -> str:
    return _probe_value(clip, "r_frame_rate")
