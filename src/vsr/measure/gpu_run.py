"""The figures of one lent-GPU call (scripts/gpu_run.sh, one `make gpu-bundle` part installed).

    python -m vsr.measure.gpu_run build/gpu-bundle/part1 --out $OUT [--dry-run]

For each of the part's models, at 480p and 1080p input: model-only frames/s at every precision
the model and the device support (fp16, bf16, fp32; batch and tiles sized by the Upscaler's own
defaults), the GPU's busy share, peak GPU memory (torch's and the device's) and CPU seconds per
frame. Then one real probe -> split -> upscale -> encode of a short 10-bit clip per size, the
workflow's step commands run one after another in their own processes, as its jobs would (no
Snakemake, no ffmpeg binary: PyAV does all the video work): whole-pipeline frames/s, each
step's seconds and CPU seconds, the output checked (frames, size, 10-bit). Everything goes to
`<out>/gpu-run-<part>.json`, rewritten after each measurement, so a run stopped at its time
limit still leaves what it measured; what the budget left out says so.

`--dry-run` does all of it on the CPU in tiny form (fp32, a 48x32 picture, a 64x36 clip).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from vsr.util import read_json, write_json

SIZES = {"480p": (854, 480), "1080p": (1920, 1080)}
DRY_SIZES = {"tiny": (48, 32)}
# Frames per pipeline clip: enough for the frame loop to settle, few enough for the budget.
PIPELINE_FRAMES = {"480p": 32, "1080p": 12, "tiny": 4}
DRY_CLIP = (64, 36)
MODEL_SECONDS = 1.5  # timed per model-only measurement, after one warm-up call
VSR_STEP = [sys.executable, "-m", "vsr", "step"]


def precisions(model: str, device: Any) -> list[str]:
    """Every precision `model` runs at on `device`: fp16, bf16 where they apply, and fp32."""
    import torch

    from vsr.infer.device import device_bf16
    from vsr.models import load_descriptor

    if device.type != "cuda":
        return ["fp32"]
    descriptor = load_descriptor(model)
    found = ["fp16"] if descriptor.supports_half else []
    if descriptor.supports_bfloat16 and device_bf16(device):
        found.append("bf16")
    del descriptor
    torch.cuda.empty_cache()
    return [*found, "fp32"]


def model_only(model: str, size: tuple[int, int], precision: str, device: Any, dry: bool) -> dict:
    """Frames/s of the Upscaler alone on decoded frames, with what it held on the device."""
    import torch

    from vsr.infer.upscaler import Upscaler
    from vsr.measure.gpu_inputs import BusySampler, picture

    width, height = size
    upscaler = Upscaler(model, device=str(device), precision=precision, backend="torch")
    base = picture(height, width)  # a real photo, each frame of the batch shifted a little
    batch = np.stack([np.roll(base, 5 * i, axis=0) for i in range(upscaler.batch_size)])
    upscaler.upscale(batch)  # warm-up: cuDNN's choice, the allocator
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    sampler = BusySampler(device.index or 0) if cuda else None
    frames, cpu_start, start = 0, time.process_time(), time.perf_counter()
    with sampler or contextlib.nullcontext():
        while frames < len(batch) or time.perf_counter() - start < (0 if dry else MODEL_SECONDS):
            upscaler.upscale(batch)
            frames += len(batch)
        seconds = time.perf_counter() - start
    tile, per_call = upscaler.plan(height, width)
    return {
        "model": model,
        "input": f"{width}x{height}",
        "precision": upscaler.precision,
        "batch_size": upscaler.batch_size,
        "tile": tile,
        "per_call": per_call,
        "memory_budget_mb": upscaler.budget_bytes // 2**20,
        "frames": frames,
        "fps": frames / seconds,
        "cpu_s_per_frame": (time.process_time() - cpu_start) / frames,
        "gpu_busy_share": sampler.share if sampler else None,
        "peak_torch_mb": torch.cuda.max_memory_allocated(device) / 2**20 if cuda else None,
        "peak_device_mb": sampler.peak_memory_mb if sampler else None,
    }


def step(name: str, *args: str) -> None:
    """One workflow step in its own process, as a job runs it; its log on failure."""
    done = subprocess.run([*VSR_STEP, name, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"step {name} failed ({done.returncode}): {' | '.join(tail)}")


def pipeline(model: str, label: str, size: tuple[int, int], work: Path, device: Any) -> dict:
    """probe -> split -> upscale -> encode of a 10-bit clip; each step's timing record."""
    import av

    from vsr.measure.gpu_inputs import BusySampler
    from vsr.media.sample import ClipSpec, make_clip

    width, height = size
    frames = PIPELINE_FRAMES[label]
    folder = work / f"{model}-{label}"
    spec = ClipSpec(width, height, frames, pix_fmt="yuv420p10le", audio=False, flash_frames=())
    clip = make_clip(folder / "clip.mkv", spec)
    probe, shards = folder / "probe.json", folder / "shards"
    steps = ("probe", "split", "upscale", "encode")
    timing = {name: folder / f"timing-{name}.json" for name in steps}
    threads = str(os.cpu_count() or 1)
    start = time.perf_counter()
    step("probe", str(clip), str(probe), "--picture", '{"crop": "off"}', "--model", model,
         "--timing", str(timing["probe"]))  # fmt: skip
    step("split", str(clip), str(probe), str(shards), "--shard-frames", str(frames),
         "--timing", str(timing["split"]))  # fmt: skip
    shard = read_json(shards / "index.json")["shards"][0]["name"]
    upscaled, final = folder / "upscaled.mkv", folder / "final.mp4"
    settings = {"device": device.type, "allocator": "system", "backend": "torch"}
    sampler = BusySampler(device.index or 0) if device.type == "cuda" else None
    with sampler or contextlib.nullcontext():
        step("upscale", str(shards / f"{shard}.mkv"), str(probe), str(upscaled),
             "--settings", json.dumps(settings), "--threads", threads,
             "--timing", str(timing["upscale"]))  # fmt: skip
    step("encode", str(upscaled), str(shards / "index.json"), shard, str(probe), str(final),
         "--threads", threads, "--timing", str(timing["encode"]))  # fmt: skip
    seconds = time.perf_counter() - start
    records = {name: read_json(path) for name, path in timing.items()}
    with av.open(str(final)) as container:
        stream = container.streams.video[0]
        decoded = [frame for frame in container.decode(stream)]
        out = {"frames": len(decoded), "size": f"{stream.width}x{stream.height}",
               "pix_fmt": stream.codec_context.pix_fmt}  # fmt: skip
    cpu = sum(record["cpu_seconds"] for record in records.values())
    return {
        "model": model,
        "input": f"{width}x{height}",
        "frames": frames,
        "output": out,
        "ok": out["frames"] == frames and out["pix_fmt"] == "yuv420p10le",
        "device": records["upscale"].get("device"),
        "fps": frames / seconds,
        "upscale_loop_fps": records["upscale"].get("fps"),
        "cpu_s_per_frame": cpu / frames,
        "steps": {
            name: {key: record.get(key) for key in ("seconds", "cpu_seconds", "peak_rss_mb")}
            for name, record in records.items()
        },
        "gpu_busy_share": sampler.share if sampler else None,
        "peak_device_mb": sampler.peak_memory_mb if sampler else None,
    }


def measure(part: Path, out: Path, budget_s: float, dry: bool, extra: dict[str, Any]) -> dict:
    import tempfile

    import torch

    from vsr.infer.device import device_report, resolve_device

    device = torch.device("cpu") if dry else resolve_device("cuda")
    info = read_json(part / "part.json")
    record: dict[str, Any] = {
        "part": part.name,
        "models": info["models"],
        "dry_run": dry,
        "device": device_report(device, "auto", "torch"),
        **extra,
        "model_only": [],
        "pipeline": [],
        "skipped": [],
    }
    path = out / f"gpu-run-{part.name}.json"
    sizes = DRY_SIZES if dry else SIZES
    start = time.perf_counter()

    def attempt(kind: str, label: str, run: Any, *args: Any) -> None:
        if time.perf_counter() - start > budget_s:
            record["skipped"].append(f"{kind} {label}: time budget ({budget_s:g} s) spent")
        else:
            try:
                record[kind].append(run(*args))
            except Exception as error:  # one failure must not cost the other figures
                record[kind].append({"label": label, "error": f"{type(error).__name__}: {error}"})
            if device.type == "cuda":
                torch.cuda.empty_cache()
        write_json(path, record)
        print(f"gpu_run: {kind} {label}: {json.dumps(record[kind][-1] if record[kind] else {})}")

    # Most wanted first, so what the budget leaves out is the least: each model-only figure at
    # the precision `auto` takes, then the other precisions, then the pipelines, largest first.
    runs = {model: precisions(model, device) for model in info["models"]}
    for first in (True, False):
        for model, found in runs.items():
            for label, size in sizes.items():
                for precision in found[:1] if first else found[1:]:
                    name = f"{model} {label} {precision}"
                    attempt("model_only", name, model_only, model, size, precision, device, dry)
    with tempfile.TemporaryDirectory() as work:
        clip_sizes = {"tiny": DRY_CLIP} if dry else dict(reversed(SIZES.items()))
        # On the CPU the part's first (lightest) model shows the mechanism; on a GPU, all.
        for label, size in clip_sizes.items():
            for model in info["models"][:1] if dry else info["models"]:
                name = f"{model} {label}"
                attempt("pipeline", name, pipeline, model, label, size, Path(work), device)
    record["seconds"] = time.perf_counter() - start
    write_json(path, record)
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vsr.measure.gpu_run", description=__doc__)
    parser.add_argument("part", type=Path, help="a make gpu-bundle part folder")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--budget-s", type=float, default=200.0)
    parser.add_argument("--dry-run", action="store_true", help="on the CPU, tiny")
    parser.add_argument("--node-check", type=int, default=None, help="its exit status")
    parser.add_argument("--gpu-check", type=int, default=None, help="its exit status")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    extra = {"node_check_status": args.node_check, "gpu_check_status": args.gpu_check}
    record = measure(args.part, args.out, args.budget_s, args.dry_run, extra)
    failed = [
        entry.get("label") or entry.get("model")
        for kind in ("model_only", "pipeline")
        for entry in record[kind]
        if "error" in entry or entry.get("ok") is False
    ]
    print(
        f"{'FAIL' if failed else 'PASS'} gpu-run {args.part.name}: "
        f"{len(record['model_only'])} model-only, {len(record['pipeline'])} pipeline runs, "
        f"{len(record['skipped'])} skipped for time; failed: {', '.join(failed) or 'none'}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
