"""Planning time of the workflow (`snakemake -n`) as an archive grows, with synthetic checkpoints.

For N titles of S shards each, it writes what the probe and split checkpoints leave behind
(probe.json, shards/index.json, empty shard files, timing records), newer than one shared tiny
source, so a dry run plans exactly the per-shard jobs a real run would, and times it.

    python -m vsr.measure.planning --titles 1 3 10 30 --shards 337 [--intermediate none]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

from vsr.measure.overhead import children_cpu
from vsr.media.sample import ClipSpec, make_clip
from vsr.util import write_json
from vsr.workflow.snakemake import snakemake_command, snakemake_env

PROBE = {
    "container_out": "mp4",
    "streams": [],
    "chapters": [],
    "video": {"width": 64, "height": 36, "frame_rate": "24", "pix_fmt": "yuv420p"},
}


def synthetic_archive(root: Path, titles: int, shards: int, source: Path) -> Path:
    """A manifest of `titles` rows over one source, and each title's finished checkpoints."""
    rows = ["id\tsource\ttype"]
    results = root / "results"
    names = [f"{i:04d}" for i in range(shards)]
    index = {"time_base": "1/24", "shards": [{"name": n} for n in names]}
    for t in range(titles):
        video = f"title{t:05d}"
        rows.append(f"{video}\t{source}\tanime")
        work = results / video / "work"
        if (work / "shards" / "index.json").exists():
            continue
        (work / "shards").mkdir(parents=True, exist_ok=True)
        write_json(work / "probe.json", PROBE)
        for step in ("probe", "split"):
            write_json(work / "timings" / f"{step}.json", {"step": step, "seconds": 0})
        for name in names:
            (work / "shards" / f"{name}.mkv").touch()
        write_json(work / "shards" / "index.json", index)
    manifest = root / f"manifest-{titles}.tsv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest


def dry_run(manifest: Path, results: Path, intermediate: str, extra: list[str]) -> dict[str, Any]:
    config = {"manifest": str(manifest), "results": str(results)}
    config |= {"intermediate": intermediate, "keep_upscaled": "False"}
    options = ["-n", "--quiet", "rules", *extra]
    command = snakemake_command(results.parent, config, cores=1, profile=None, extra=options)
    env = snakemake_env(None)
    start, cpu = time.perf_counter(), children_cpu()
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    seconds, cpu = time.perf_counter() - start, children_cpu() - cpu
    if done.returncode != 0:
        raise RuntimeError(f"dry run failed:\n{done.stderr[-2000:]}")
    total = re.search(r"^total\s+(\d+)", done.stdout + done.stderr, re.M)
    return {"seconds": seconds, "cpu_seconds": cpu, "jobs": int(total.group(1)) if total else None}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--titles", type=int, nargs="+", default=[1, 3, 10, 30])
    p.add_argument("--shards", type=int, default=337)
    p.add_argument("--intermediate", default="none", choices=["none", "lossless"])
    p.add_argument("--work", default="bench/planning-work")
    p.add_argument("--out", default="bench/planning.json")
    p.add_argument("extra", nargs="*", help="more snakemake arguments (after --)")
    args = p.parse_args(argv)
    root = Path(args.work).resolve() / f"s{args.shards}"
    root.mkdir(parents=True, exist_ok=True)
    source = root / "source.mp4"
    if not source.exists():
        make_clip(source, ClipSpec(width=64, height=36, frames=4, audio=False))
    curve = []
    for titles in args.titles:
        manifest = synthetic_archive(root, titles, args.shards, source)
        point = dry_run(manifest, root / "results", args.intermediate, args.extra)
        point.update(titles=titles, shards=args.shards, intermediate=args.intermediate)
        point["ms_per_job"] = 1000 * point["seconds"] / point["jobs"] if point["jobs"] else None
        print(json.dumps(point), flush=True)
        curve.append(point)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(curve, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
