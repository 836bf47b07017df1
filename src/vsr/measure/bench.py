"""`make bench`: frames/s of the pipeline against model-only throughput and simple baselines.

For each model, on the same frames of the same clip, in one run (ratios, not absolute seconds,
are what carry over between machines), interleaved (A B C D A B C D ...) and best-of-N:
- model-only: the pipeline's Upscaler (backend `auto`, jemalloc) on frames already in memory,
  one frame per call: the ceiling for the pipeline;
- pipeline: `vsr upscale` end to end (Snakemake start-up, probe, split, upscale, encode, mux);
- per-frame: built like Real-ESRGAN's video script (FFmpeg pipe in, one fp32 NCHW torch frame
  at a time, FFmpeg pipe out, the default allocator), started in its own process;
- bicubic: FFmpeg's bicubic x4 and the same encoder: the floor.
Each worker runs in its own process, so allocators and thread pools do not leak between them.

Quality, like for like: the per-frame baseline converts RGB to YUV with the same swscale
settings as the pipeline (bilinear, BT.601 limited for these SD clips) and gives libx264 the same
settings and thread count as the pipeline's encode step (x264's output depends on its threads;
Debian's FFmpeg and PyAV's builds give identical pictures once those match). What each side
hands its encoder agrees to ~100 dB (float summation order differs between the two models'
kernels: a few 1-level flips); x264 turns those flips into different decisions, so the finals
agree only to ~40-43 dB, each equally far from the model's output. All four are reported.

Model-only runs of every backend (and eager NCHW fp32, the per-frame baseline's model) on a
shorter clip (`--backend-frames`) show which backend is fastest here, and by how much; the
FLOPs per frame put model-only frames/s against the hardware's peak.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vsr import WORKFLOW_ROOT
from vsr.layout import upscale_video_paths, upscale_work_dir
from vsr.media.metrics import psnr
from vsr.media.sample import ClipSpec, make_clip
from vsr.util import peak_rss_mb, usable_cpus

ENCODE_THREADS = 2  # the encode rule's `threads:` (rules/encode.smk), scaled down to --cores
ENCODE = ["-c:v", "libx264", "-crf", "18", "-preset", "medium", "-pix_fmt", "yuv420p"]
# PyAV's reformat default (what the pipeline's upscale step uses): bilinear. FFmpeg's CLI
# defaults to bicubic, which alone would make the two outputs differ.
SWS_FLAGS = ["-sws_flags", "bilinear"]
KEPT_FRAMES = 12  # baseline frames kept (evenly spaced) for the like-for-like comparison
RUNS = ("model_only", "pipeline", "per_frame", "bicubic")
# Model-only backends compared by `--backends`; torch-nchw is the per-frame baseline's model.
BACKEND_RUNS = ("torch-nchw", "torch", "torch-compile", "onnxruntime", "ncnn")


@dataclass
class Plan:
    """One model's part of the bench: its clip and how often to repeat each run."""

    model: str
    width: int
    height: int
    frames: int
    repeats: int


def default_plans(anime_frames: int, real_frames: int, repeats: int) -> list[Plan]:
    # x4plus costs ~50x the anime model per pixel: a quarter-size, short clip, one repeat.
    return [
        Plan("realesr-animevideov3", 320, 180, anime_frames, repeats),
        Plan("realesrgan-x4plus", 160, 90, real_frames, 1),
    ]


# --- the runs (each in its own process) -----------------------------------------------------


def decode_rgb(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def model_only(model: str, clip: Path, threads: int, backend: str = "auto") -> dict[str, Any]:
    """The pipeline's Upscaler on decoded frames (`auto` calibrates once, cached)."""
    frames = decode_rgb(clip)
    if backend == "torch-nchw":
        upscale, backend_name = _eager_nchw(model, threads), backend
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


def _eager_nchw(model: str, threads: int):
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
    upscale = _eager_nchw(model, threads)
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
    encode = [*SWS_FLAGS, *ENCODE, *_encode_threads(threads)]
    return ["ffmpeg", "-v", "error", "-y", *inputs, *streams, *encode, str(out)]


def _encode_threads(threads: int) -> list[str]:
    return ["-threads", str(min(ENCODE_THREADS, threads))]


def pipeline(model: str, clip: Path, out: Path, cores: int, shard_frames: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "vsr", "upscale", str(clip), "-o", str(out)]
    command += ["--model", model, "--cores", str(cores), "--shard-frames", str(shard_frames)]
    shutil.rmtree(upscale_work_dir(out), ignore_errors=True)  # else Snakemake skips it all
    start, cpu_start = time.perf_counter(), _children_cpu()
    subprocess.run([*command, "--keep-work"], check=True, stdout=subprocess.DEVNULL)
    seconds, cpu_seconds = time.perf_counter() - start, _children_cpu() - cpu_start
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "steps": step_seconds(out)}


def _children_cpu() -> float:
    """CPU seconds of every finished child process tree (all their threads and descendants)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bicubic(clip: Path, out: Path, threads: int) -> dict[str, Any]:
    scale = ["-vf", "scale=iw*4:ih*4:flags=bicubic", *ENCODE, *_encode_threads(threads)]
    command = ["ffmpeg", "-v", "error", "-y", "-i", str(clip), *scale, "-c:a", "copy"]
    start = time.perf_counter()
    subprocess.run([*command, str(out)], check=True)
    return {"seconds": time.perf_counter() - start}


def peak_rss_1080p(model: str, threads: int, budget_mb: int) -> dict[str, Any]:
    """Peak RSS of upscaling one 1920x1080 photo frame, tiled as the memory budget decides."""
    from skimage import data, transform

    from vsr.infer.upscaler import Upscaler

    photo = transform.resize(data.astronaut(), (1080, 1920), preserve_range=True)
    frame = photo.astype(np.uint8)[None]
    upscaler = Upscaler(model, threads=threads, backend="torch", memory_budget_mb=budget_mb)
    loaded_mb = peak_rss_mb()
    start = time.perf_counter()
    upscaler.upscale(frame)
    tile, per_call = upscaler.plan(1080, 1920)
    return {
        "seconds": time.perf_counter() - start,
        "memory_budget_mb": budget_mb,
        "tile": tile,
        "per_call": per_call,
        "peak_rss_after_load_mb": loaded_mb,
        "peak_rss_mb": peak_rss_mb(),
    }


def model_flops(model: str, height: int, width: int) -> float:
    """FLOPs of one forward pass on one frame (a multiply-add counts 2), by torch's counter on
    the meta device: no arithmetic is done, so heavy models at large sizes cost nothing."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from vsr.models.registry import load_model

    net = load_model(model).eval().to("meta")
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        net(torch.zeros(1, 3, height, width, device="meta"))
    return float(counter.get_total_flops())


# Dense fp16 tensor-core peaks (TFLOP/s, vendor datasheets) by model name (see gpu_fp16_peak).
GPU_FP16_PEAK_TFLOPS = {
    "H200": 989.0,
    "H100 PCIe": 756.0,
    "H100": 989.0,
    "A100": 312.0,
    "L40S": 362.0,
    "L40": 181.0,
    "L4": 121.0,
    "A10G": 70.0,
    "A10": 125.0,
    "T4": 65.0,
    "V100": 125.0,
}
GPU_SIZE = (480, 640)  # (height, width): 640x480 -> 2560x1920


def gpu_fp16_peak(name: str) -> float | None:
    """The datasheet peak for a device name, matching whole model names, longest first: an
    "NVIDIA L40S" is not an L4 and an "NVIDIA A10G" not an A10."""
    import re

    for key in sorted(GPU_FP16_PEAK_TFLOPS, key=len, reverse=True):
        if re.search(rf"(?<!\w){re.escape(key)}(?!\w)", name):
            return GPU_FP16_PEAK_TFLOPS[key]
    return None


def gpu_fp16(model: str, backend: str, frames: int, batch_size: int) -> dict[str, Any]:
    """Frames/s at 640x480 on the CUDA GPU at precision auto (fp16 where the model supports
    it; the precision actually computed is reported), VRAM, and the share of the fp16 peak."""
    import torch

    from vsr.infer.upscaler import Upscaler

    height, width = GPU_SIZE
    # Whole frames: the default budget is sized for host memory, not an 80 GB GPU.
    options = dict(device="cuda", precision="auto", batch_size=batch_size, memory_budget_mb=32768)
    upscaler = Upscaler(model, backend=backend, **options)
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, (batch_size, height, width, 3), dtype=np.uint8)
    upscaler.upscale(batch)  # warm-up: kernels, engines, allocator
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    calls = max(1, frames // batch_size)
    start = time.perf_counter()
    for _ in range(calls):
        upscaler.upscale(batch)  # frames in and out of host memory, as in the upscale step
    torch.cuda.synchronize()
    fps = calls * batch_size / (time.perf_counter() - start)
    name = torch.cuda.get_device_name()
    peak = gpu_fp16_peak(name)
    achieved = fps * model_flops(model, height, width) / 1e12
    free, total = torch.cuda.mem_get_info()
    return {
        "device": name,
        "backend": upscaler.backend,
        # What really computed: ONNX Runtime's CUDA provider runs fp32 whatever was asked.
        "precision": upscaler.report["precision"],
        "providers": upscaler.report["providers"],
        # torch's allocator only; ONNX Runtime's arena is outside it, so also the device-wide
        # use after the run (both keep their peak blocks cached).
        "vram_device_used_mb": (total - free) / 2**20,
        "batch_size": batch_size,
        "fps": fps,
        "tflops": achieved,
        "peak_fraction": achieved / peak if peak else None,
        "vram_peak_mb": torch.cuda.max_memory_allocated() / 2**20,
    }


def gpu_runs(models: list[str], frames: int) -> list[dict[str, Any]]:
    """Every model x backend on the GPU (each in its own process); empty without CUDA."""
    import torch

    if not torch.cuda.is_available():
        return []
    fast_env, _ = environments()
    runs = []
    for model in models:
        for backend in ("torch", "torch-compile", "onnxruntime"):
            options = dict(model=model, backend=backend, frames=frames, batch_size=4)
            try:
                result = run_worker("gpu", fast_env, **options)
            except subprocess.CalledProcessError as error:
                print(f"  gpu {model} {backend}: failed ({error.stderr.strip()[-300:]})")
                continue
            label = result.get("precision", "fp16")
            print(f"  gpu {model} {backend}: {result['fps']:.1f} frames/s {label} 640x480")
            runs.append({"model": model, **result})
    return runs


def rss_run(model: str, threads: int, budget_mb: int) -> dict[str, Any]:
    fast_env, _ = environments()
    return {
        "model": model,
        **run_worker("rss", fast_env, model=model, threads=threads, budget_mb=budget_mb),
    }


WORKERS = {
    "model_only": lambda a: model_only(a.model, Path(a.clip), a.threads, a.backend),
    "per_frame": lambda a: per_frame_baseline(a.model, Path(a.clip), Path(a.out), a.threads),
    "rss": lambda a: peak_rss_1080p(a.model, a.threads, a.budget_mb),
    "gpu": lambda a: gpu_fp16(a.model, a.backend, a.frames, a.batch_size),
}


def worker_main(argv: list[str]) -> int:
    """`python -m vsr.measure.bench --worker NAME ...`: one run, its result as JSON on stdout."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", choices=sorted(WORKERS), required=True)
    for option in ("--model", "--clip", "--out"):
        parser.add_argument(option, default="")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--threads", type=int, default=usable_cpus())
    parser.add_argument("--budget-mb", type=int, default=4096)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=4)
    args = parser.parse_args(argv)
    print(json.dumps(WORKERS[args.worker](args)))
    return 0


def run_worker(name: str, env: dict[str, str], **options: Any) -> dict[str, Any]:
    """One worker run; `process_cpu_seconds`: its whole process tree's CPU (FFmpeg pipes too)."""
    command = [sys.executable, "-m", "vsr.measure.bench", "--worker", name]
    for key, value in options.items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    cpu_start = _children_cpu()
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {**result, "process_cpu_seconds": _children_cpu() - cpu_start}


def environments() -> tuple[dict[str, str], dict[str, str]]:
    """(jemalloc, as the pipeline's upscale jobs; the default allocator, as the script ships)."""
    from vsr.util import JEMALLOC, JEMALLOC_CONF

    plain = {k: v for k, v in os.environ.items() if k not in {"LD_PRELOAD", "MALLOC_CONF"}}
    if not Path(JEMALLOC).exists():
        return plain, plain
    return dict(plain, LD_PRELOAD=JEMALLOC, MALLOC_CONF=JEMALLOC_CONF), plain


# --- quality --------------------------------------------------------------------------------


def psnr_between(a: Path, b: Path) -> float:
    return psnr(np.stack(decode_rgb(a)), np.stack(decode_rgb(b)))


def to_yuv420(rgb: np.ndarray) -> np.ndarray:
    """RGB -> the planes the pipeline's upscale step writes (same swscale call, see upscale.py)."""
    import av

    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
        format="yuv420p", dst_colorspace="ITU601", src_color_range="JPEG", dst_color_range="MPEG"
    )
    return frame.to_ndarray()


def quality(work: Path, pipeline_out: Path, per_frame_out: Path, keep_every: int) -> dict:
    import av

    kept = np.load(per_frame_out.with_suffix(".kept.npy"))
    shards = sorted(upscale_video_paths(pipeline_out).upscaled.glob("*.mkv"))
    ours: list[np.ndarray] = []
    for shard in shards:
        with av.open(str(shard)) as container:
            ours += [f.to_ndarray(format="yuv420p") for f in container.decode(video=0)]
    ours_kept = np.stack(ours[::keep_every][: len(kept)])
    baseline_yuv = np.stack([to_yuv420(rgb) for rgb in kept])
    final_ours = np.stack(decode_rgb(pipeline_out)[::keep_every][: len(kept)])
    final_theirs = np.stack(decode_rgb(per_frame_out)[::keep_every][: len(kept)])
    return {
        "psnr_finals_db": psnr_between(pipeline_out, per_frame_out),
        "psnr_encoder_input_db": psnr(ours_kept, baseline_yuv),
        "psnr_pipeline_final_vs_model_db": psnr(final_ours, kept),
        "psnr_per_frame_final_vs_model_db": psnr(final_theirs, kept),
    }


# --- one model, all runs --------------------------------------------------------------------


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


def plan_clip(plan: Plan, folder: Path) -> Path:
    """The plan's test clip, written into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    spec = ClipSpec(width=plan.width, height=plan.height, frames=plan.frames)
    return make_clip(folder / "clip.mp4", spec)


def bench_model(plan: Plan, folder: Path, threads: int) -> dict[str, Any]:
    clip = plan_clip(plan, folder)
    fast_env, plain_env = environments()
    outs = {name: folder / f"{name}.mp4" for name in RUNS}
    best: dict[str, dict[str, Any]] = {}
    for _ in range(plan.repeats):  # interleaved, so load from others hits every run alike
        runs = {
            "model_only": lambda: run_worker(
                "model_only", fast_env, model=plan.model, clip=clip, threads=threads
            ),
            "pipeline": lambda: pipeline(plan.model, clip, outs["pipeline"], threads, plan.frames),
            "per_frame": lambda: run_worker(
                "per_frame",
                plain_env,
                model=plan.model,
                clip=clip,
                out=outs["per_frame"],
                threads=threads,
            ),  # fmt: skip
            "bicubic": lambda: bicubic(clip, outs["bicubic"], threads),
        }
        for name, run in runs.items():
            result = run()
            print(f"  {plan.model} {name}: {plan.frames / result['seconds']:.2f} frames/s")
            if name not in best or result["seconds"] < best[name]["seconds"]:
                best[name] = result
    fps = {name: plan.frames / best[name]["seconds"] for name in RUNS}
    steps = best["pipeline"]["steps"]
    keep_every = best["per_frame"]["keep_every"]
    return {
        **asdict(plan),
        "threads": threads,
        "backend": best["model_only"]["backend"],
        "fps": fps,
        "ratios": {
            "pipeline_vs_model_only": fps["pipeline"] / fps["model_only"],
            "pipeline_vs_per_frame": fps["pipeline"] / fps["per_frame"],
            # The GPU job's frame loop: decode, model and lossless 4x write overlapped.
            "upscale_loop_vs_model_only": plan.frames / steps["upscale_loop"] / fps["model_only"],
        },
        # Where the model stands against the hardware: compare with the CPU's fp32 peak.
        "model_gflop_per_frame": model_flops(plan.model, plan.height, plan.width) / 1e9,
        "pipeline_steps_s": steps,
        "pipeline_s": best["pipeline"]["seconds"],
        "model_only_s": best["model_only"]["seconds"],
        # CPU seconds: with every core busy, pipeline / model-only frames/s cannot exceed
        # model-only CPU / pipeline CPU, however well the steps overlap.
        "cpu_s": {
            "model_only": best["model_only"]["cpu_seconds"],
            "pipeline": best["pipeline"]["cpu_seconds"],
            "per_frame": best["per_frame"]["process_cpu_seconds"],
        },
        "quality": quality(folder, outs["pipeline"], outs["per_frame"], keep_every),
    }


def bench_backends(plan: Plan, folder: Path, threads: int) -> dict[str, Any]:
    """Model-only frames/s of every backend on one short clip, each run in its own process."""
    clip = plan_clip(plan, folder)
    fast_env, _ = environments()
    fps: dict[str, float] = {}
    for _ in range(plan.repeats):  # interleaved, best of N
        for name in BACKEND_RUNS:
            try:
                options = dict(model=plan.model, clip=clip, threads=threads, backend=name)
                result = run_worker("model_only", fast_env, **options)
            except subprocess.CalledProcessError as error:  # e.g. no compiler for torch.compile
                print(f"  {plan.model} backend {name}: failed ({error.stderr.strip()[-200:]})")
                continue
            fps[name] = max(fps.get(name, 0.0), plan.frames / result["seconds"])
            print(f"  {plan.model} backend {name}: {plan.frames / result['seconds']:.2f} frames/s")
    return {**asdict(plan), "threads": threads, "fps": fps}


# --- report ---------------------------------------------------------------------------------


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = results["models"]
    panels = len(models) + bool(results.get("backends"))
    fig, axes = plt.subplots(panels, 1, figsize=(7.5, 2.6 * panels), squeeze=False)
    for entry in results.get("backends", []):  # last panel: model-only by backend
        ax = axes[-1, 0]
        bars = ax.barh(list(entry["fps"]), list(entry["fps"].values()), color="#888")
        ax.bar_label(bars, fmt="%.2f fps")
        ax.set_title(
            f"{entry['model']} model-only by backend ({entry['frames']} frames)", fontsize=8
        )
    for ax, entry in zip(axes[:, 0], models, strict=False):
        values = [entry["fps"][name] for name in RUNS]
        bars = ax.barh(list(RUNS), values, color=["#888", "#2a7", "#c44", "#46c"])
        ax.bar_label(bars, fmt="%.2f fps")
        ax.set_xscale("log")
        ratios = entry["ratios"]
        ax.set_title(
            f"{entry['model']}: {entry['width']}x{entry['height']} -> x4, {entry['frames']} "
            f"frames, {entry['threads']} threads (pipeline {ratios['pipeline_vs_model_only']:.2f}"
            f"x model-only, {ratios['pipeline_vs_per_frame']:.2f}x per-frame)",
            fontsize=8,
        )
    axes[len(models) - 1, 0].set_xlabel("frames/s (log scale; higher is better)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def print_summary(results: dict[str, Any]) -> None:
    for entry in results["models"]:
        print(f"{entry['model']} ({entry['frames']} frames, backend {entry['backend']}):")
        for name, value in entry["fps"].items():
            print(f"  {name:>11}: {value:7.2f} frames/s")
        for name, value in entry["ratios"].items():
            print(f"  {name}: {value:.2f}x")
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in entry["pipeline_steps_s"].items())
        print(f"  pipeline {entry['pipeline_s']:.1f} s; steps: {steps}")
        cpu = entry["cpu_s"]
        print(
            f"  CPU s: model-only {cpu['model_only']:.1f}, pipeline {cpu['pipeline']:.1f}, "
            f"per-frame {cpu['per_frame']:.1f} (model share of the pipeline's CPU: "
            f"{cpu['model_only'] / cpu['pipeline']:.2f})"
        )
        for name, value in entry["quality"].items():
            print(f"  {name}: {value:.1f}")
        gflop = entry["model_gflop_per_frame"]
        print(f"  model: {gflop:.1f} GFLOP/frame, {gflop * entry['fps']['model_only']:.0f} GFLOP/s")
    for entry in results.get("backends", []):
        print(f"model-only by backend, {entry['model']} ({entry['frames']} frames):")
        reference = entry["fps"].get("torch-nchw")
        for name, value in entry["fps"].items():
            ratio = f" ({value / reference:.2f}x eager NCHW)" if reference else ""
            print(f"  {name:>13}: {value:7.2f} frames/s{ratio}")
    for entry in results.get("gpu", []):
        fraction = entry["peak_fraction"]
        share = f", {100 * fraction:.0f}% of fp16 peak" if fraction else ""
        print(
            f"GPU {entry['device']} {entry['model']} {entry['backend']} "
            f"{entry.get('precision', 'fp16')} 640x480: "
            f"{entry['fps']:.1f} frames/s, {entry['tflops']:.1f} TFLOP/s{share}, "
            f"VRAM peak {entry['vram_peak_mb']:.0f} MB"
        )
    for entry in results.get("peak_rss_1080p", []):
        print(
            f"peak RSS 1080p {entry['model']} (budget {entry['memory_budget_mb']} MB, "
            f"tile {entry['tile'] or 'none'}): {entry['peak_rss_mb']:.0f} MB"
        )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        return worker_main(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", help="subset of the plans' models")
    parser.add_argument("--anime-frames", type=int, default=240)
    parser.add_argument("--real-frames", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2, help="best of N (anime model)")
    parser.add_argument("--rss-budgets", type=int, nargs="*", default=[4096, 1024])
    parser.add_argument(
        "--backend-frames", type=int, default=48, help="model-only per backend (0: skip)"
    )
    parser.add_argument("--gpu-frames", type=int, default=64, help="per GPU run (CUDA only)")
    parser.add_argument("--gpu-only", action="store_true", help="only the CUDA fp16 runs")
    parser.add_argument("--out", default=str(WORKFLOW_ROOT / "bench"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    threads = usable_cpus()
    plans = default_plans(args.anime_frames, args.real_frames, args.repeats)
    plans = [p for p in plans if not args.models or p.model in args.models]
    gpu = gpu_runs([p.model for p in plans], args.gpu_frames)
    if args.gpu_only:  # a lent GPU machine: keep the CPU figures of the quiet 2-core run
        (out / "results-gpu.json").write_text(json.dumps({"gpu": gpu}, indent=2) + "\n")
        print_summary({"models": [], "gpu": gpu})
        return 0 if gpu else 1
    results: dict[str, Any] = {
        "models": [bench_model(p, out / "out" / p.model, threads) for p in plans]
    }
    if args.backend_frames:
        first = plans[0]
        plan = Plan(first.model, first.width, first.height, args.backend_frames, args.repeats)
        results["backends"] = [bench_backends(plan, out / "out" / "backends", threads)]
    results["gpu"] = gpu
    results["peak_rss_1080p"] = [
        rss_run(plans[0].model, threads, budget) for budget in args.rss_budgets
    ]
    from vsr.measure.fields_bench import field_cost, print_field_cost

    results["fields"] = field_cost(plans[0].model, out / "out" / "fields", threads)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, out / "results.png")
    print_summary(results)
    print_field_cost(results["fields"])
    print(f"wrote {out / 'results.json'} and {out / 'results.png'}")
    return 0


def _probe_value(clip: Path, entry: str) -> str:
    command = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries"]
    command += [f"stream={entry}", "-of", "csv=p=0", str(clip)]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def _size(clip: Path) -> tuple[int, int]:
    width, height = _probe_value(clip, "width,height").split(",")
    return int(width), int(height)


def _rate(clip: Path) -> str:
    return _probe_value(clip, "r_frame_rate")


if __name__ == "__main__":
    sys.exit(main())
