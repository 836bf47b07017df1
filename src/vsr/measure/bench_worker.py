"""One benchmark run in its own process, its result as JSON on stdout.

Each run gets a fresh process, so allocators and thread pools do not leak between runs; the
model-only and pipeline-side runs take jemalloc, as the pipeline's upscale jobs do, and the
per-frame baseline the default allocator, as Real-ESRGAN's script ships.

    python -m vsr.measure.bench_worker NAME --model M [--clip C --out O --threads N ...]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from vsr.measure.overhead import children_cpu
from vsr.util import usable_cpus

# Each worker: the function it runs and the options it takes.
WORKERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "model_only": ("vsr.measure.bench_runs:model_only", ("model", "clip", "threads", "backend")),
    "per_frame": ("vsr.measure.bench_runs:per_frame_baseline", ("model", "clip", "out", "threads")),
    "rss": ("vsr.measure.bench_cost:peak_rss_1080p", ("model", "threads", "budget_mb")),
    "gpu": ("vsr.measure.bench_gpu:gpu_fp16", ("model", "backend", "frames", "batch_size")),
}
PATHS = {"clip", "out"}


def worker_main(argv: list[str]) -> int:
    """Run the named worker; print its result as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m vsr.measure.bench_worker")
    parser.add_argument("worker", choices=sorted(WORKERS))
    for option in ("--model", "--clip", "--out"):
        parser.add_argument(option, default="")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--threads", type=int, default=usable_cpus())
    parser.add_argument("--budget-mb", type=int, default=4096)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=4)
    args = vars(parser.parse_args(argv))
    target, names = WORKERS[args["worker"]]
    module, function = target.split(":")
    options = {name: Path(args[name]) if name in PATHS else args[name] for name in names}
    print(json.dumps(getattr(importlib.import_module(module), function)(**options)))
    return 0


def run_worker(name: str, env: dict[str, str], **options: Any) -> dict[str, Any]:
    """One worker run; `process_cpu_seconds`: its whole process tree's CPU (FFmpeg pipes too)."""
    command = [sys.executable, "-m", "vsr.measure.bench_worker", name]
    for key, value in options.items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    cpu_start = children_cpu()
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {**result, "process_cpu_seconds": children_cpu() - cpu_start}


def environments() -> tuple[dict[str, str], dict[str, str]]:
    """(jemalloc, as the pipeline's upscale jobs; the default allocator, as the script ships)."""
    from vsr.util import JEMALLOC, JEMALLOC_CONF

    plain = {k: v for k, v in os.environ.items() if k not in {"LD_PRELOAD", "MALLOC_CONF"}}
    if not Path(JEMALLOC).exists():
        return plain, plain
    return dict(plain, LD_PRELOAD=JEMALLOC, MALLOC_CONF=JEMALLOC_CONF), plain


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
