"""`make bench`: frames/s of the pipeline against model-only throughput and simple baselines.

For each model, on the same frames of the same clip, in one run (ratios, not absolute seconds,
are what carry over between machines), interleaved (A B C D A B C D ...) and best-of-N, the four
runs of `bench_runs` (model-only, pipeline, per-frame, bicubic), each worker in its own process
(`bench_worker`); their outputs compared like for like (`bench_quality`).

Model-only runs of every backend (and eager NCHW fp32, the per-frame baseline's model) on a
shorter clip (`--backend-frames`) show which backend is fastest here, and by how much; the
FLOPs per frame put model-only frames/s against the hardware's peak (`bench_cost`). On a CUDA
machine the fp16 runs of `bench_gpu` come too (`--gpu-only`: those alone). `bench_report` draws
and prints the results.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vsr import WORKFLOW_ROOT
from vsr.measure.bench_cost import model_flops
from vsr.measure.bench_gpu import gpu_runs
from vsr.measure.bench_quality import quality
from vsr.measure.bench_report import plot, print_summary
from vsr.measure.bench_runs import BACKEND_RUNS, RUNS, bicubic, pipeline
from vsr.measure.bench_worker import environments, run_worker
from vsr.media.sample import ClipSpec, make_clip
from vsr.util import usable_cpus


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
        "quality": quality(outs["pipeline"], outs["per_frame"], keep_every),
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


def rss_run(model: str, threads: int, budget_mb: int) -> dict[str, Any]:
    fast_env, _ = environments()
    return {
        "model": model,
        **run_worker("rss", fast_env, model=model, threads=threads, budget_mb=budget_mb),
    }


def main(argv: list[str] | None = None) -> int:
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


if __name__ == "__main__":
    sys.exit(main())
