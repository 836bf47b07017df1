"""`vsr batch MANIFEST`: a whole archive as a series of small Snakemake runs.

One Snakemake run plans every job of every title it is given before anything starts, and
re-plans as each title's checkpoints finish: at ~3 ms per job, 1,000 titles x 337 shards is
about half an hour of planning (docs/scaling.md measures the curve). Here the manifest is cut
into chunks of titles; each chunk is one Snakemake run (its own working directory, so runs do
not contend for one lock), at most `--parallel` at a time. A title whose summary.json exists is
done and never planned again, so an interrupted batch resumes by running the same command.
While it runs, one status line keeps updating (titles done, failed and running, frames/s over
the archive, ETA) and each title gets its line as soon as it finishes (`batch_progress`);
`archive.csv` and `archive.html` in the results folder list every title: status and reason,
frames, frames/s, QC, the decisions made (scan, crop, container), review reasons and output.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vsr.errors import VsrError, print_error
from vsr.layout import video_paths
from vsr.util import atomic_output, read_json
from vsr.workflow.config import effective_config
from vsr.workflow.manifest import load_manifest, write_manifest
from vsr.workflow.snakemake import snakemake_command, snakemake_env

COLUMNS = [
    "id",
    "status",
    "reason",
    "frames",
    "fps",
    "qc",
    "scan",
    "crop",
    "container",
    "review",
    "output",
    "log",
]


def default_models() -> dict[str, str]:
    return dict(effective_config({})["models"])


def title_failure(results: Path, video: str, since: float = 0.0) -> str | None:
    """The one-line error a step of this title wrote into its log since `since`, if any."""
    from vsr.workflow.run import first_step_error

    logs = []
    for log in sorted(video_paths(results, video).logs.glob("**/*.log")):
        try:
            if log.stat().st_mtime >= since:
                logs.append(log)
        except OSError:
            continue
    found = first_step_error(*logs)
    return str(found) if found else None


def title_record(results: Path, video: str, log: str = "") -> dict[str, Any]:
    """One archive.csv row from the title's summary.json (status `done`), or `pending`."""
    summary_path = video_paths(results, video).summary
    if not summary_path.is_file():
        return {"id": video, "status": "pending", "log": log}
    summary = read_json(summary_path)
    seconds = sum(stage.get("seconds", 0.0) for stage in summary.get("stages", {}).values())
    frames = int(summary.get("frames", 0))
    made = (summary.get("provenance") or {}).get("decisions") or {}
    return {
        "id": video,
        "status": "done",
        "reason": "",
        "frames": frames,
        "fps": round(frames / seconds, 3) if seconds else "",
        "qc": quality_check(Path(summary["output"]), frames),
        "scan": (made.get("scan") or {}).get("value", ""),
        "crop": (made.get("crop") or {}).get("value", ""),
        "container": Path(summary["output"]).suffix[1:],
        "review": "; ".join(summary.get("review") or []),
        "output": summary["output"],
        "log": log,
        "source": summary.get("source", ""),
        "rotation": (summary.get("probe") or {}).get("video", {}).get("rotation", 0),
    }


def quality_check(output: Path, frames: int) -> str:
    """`ok` when the output exists and holds the source's frame count (read from the container)."""
    import av

    if not output.is_file():
        return "output missing"
    try:
        with av.open(str(output)) as container:
            stream = container.streams.video[0]
            count = stream.frames or sum(1 for p in container.demux(stream) if p.size)
    except (av.error.FFmpegError, IndexError) as error:
        return f"unreadable ({error})"
    return "ok" if count == frames else f"frames {count} != {frames}"


def write_reports(results: Path, records: dict[str, dict[str, Any]]) -> None:
    """archive.csv and archive.html (failed and review titles first)."""
    from vsr.workflow.pages import archive_page

    with atomic_output(results / "archive.csv") as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(records.values())
    with atomic_output(results / "archive.html") as tmp:
        tmp.write_text(archive_page(list(records.values())))


def progress_line(record: dict[str, Any]) -> str:
    if record["status"] == "done":
        fps = f"{record['fps']} frames/s" if record.get("fps") != "" else "? frames/s"
        review = f", review: {record['review']}" if record.get("review") else ""
        return (
            f"{record['id']}: done, {record['frames']} frames, {fps}, "
            f"qc {record['qc']}{review}, {record['output']}"
        )
    reason = f": {record['reason']}" if record.get("reason") else ""
    return f"{record['id']}: {record['status']}{reason} (log: {record.get('log') or '-'})"


@dataclass(frozen=True)
class Runs:
    """How a batch's titles go to Snakemake: `chunk` titles per run, `parallel` runs at a time,
    through `profile` with `cores` each; `config` are KEY=VALUE items, `extra` more Snakemake
    options. `vsr batch` and `vsr plan --profile` share it."""

    chunk: int = 20
    parallel: int = 1
    profile: str = "local"
    cores: int = 1
    config: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()

    @staticmethod
    def add_arguments(
        parser: argparse.ArgumentParser, cores: int = 1, cores_help: str = "cores per run"
    ) -> None:
        """The options of `vsr batch`, which `vsr plan` takes too."""
        parser.add_argument(
            "--chunk", type=int, default=20, help="titles per Snakemake run (1 on Slurm)"
        )
        parser.add_argument("--parallel", type=int, default=1, help="Snakemake runs at a time")
        parser.add_argument("--profile", default="local", help="local | slurm | a profile folder")
        parser.add_argument("--cores", type=int, default=cores, help=cores_help)
        parser.add_argument(
            "--config",
            nargs="*",
            default=[],
            metavar="KEY=VALUE",
            help="more config: KEY=VALUE, section.key=VALUE (encode.crf=20, output.size=1920x1080)",
        )

    @classmethod
    def from_args(cls, args: argparse.Namespace, extra: list[str]) -> Runs:
        return cls(args.chunk, args.parallel, args.profile, args.cores, (*args.config,), (*extra,))


def run_chunks(
    table,
    results: Path,
    runs: Runs,
    *,
    target: Callable[[str], Path] | None = None,
    on_chunk_done: Callable[[list[str], int, Path], None] | None = None,
) -> None:
    """The titles of `table`, in chunks as `runs` says, into `results`; `target(video)` names
    the file a title's run stops at (default: the whole title). `on_chunk_done(videos,
    returncode, log)` follows each run."""
    from vsr.workflow.config import parse_items, snakemake_items

    env = snakemake_env(runs.profile)
    chunk = runs.chunk
    if runs.profile != "local" and env.get("VSR_SLURM_GROUP", "1") == "1":
        # One title per run: its jobs are grouped into few Slurm jobs, which Snakemake can do
        # safely only where no other title's checkpoint finishes meanwhile (see cluster.py).
        env["VSR_SLURM_GROUP"], chunk = "1", 1
    videos = list(table.index)
    chunks = [videos[i : i + chunk] for i in range(0, len(videos), max(1, chunk))]
    batch_dir = results / ".batch"
    items = snakemake_items(parse_items(list(runs.config)))

    def run_chunk(number: int, titles: list[str]) -> None:
        # Named by its titles too: another batch into the same results folder (other titles)
        # gets other folders, so the two Snakemake runs never share a working directory.
        digest = hashlib.sha256("\0".join(titles).encode()).hexdigest()[:8]
        workdir = batch_dir / f"chunk-{number:04d}-{digest}"
        workdir.mkdir(parents=True, exist_ok=True)
        rows = table.loc[titles].to_dict("records")  # with any per-video override columns
        chunk_manifest = write_manifest(workdir / "manifest.tsv", rows)
        settings = {"manifest": str(chunk_manifest), "results": str(results), **items}
        targets = [str(target(v)) for v in titles] if target else ["videos"]
        command = snakemake_command(
            workdir,
            settings,
            cores=runs.cores,
            profile=runs.profile,
            extra=["--keep-going", *runs.extra],
            targets=targets,
        )
        log = workdir / "snakemake.log"
        with log.open("w") as handle:
            done = subprocess.run(
                command, cwd=workdir, stdout=handle, stderr=subprocess.STDOUT, env=env, check=False
            )
        if on_chunk_done:
            on_chunk_done(titles, done.returncode, log)

    with ThreadPoolExecutor(max_workers=max(1, runs.parallel)) as pool:
        for future in [pool.submit(run_chunk, n, c) for n, c in enumerate(chunks)]:
            future.result()


def run_batch(
    manifest: Path, results: Path, runs: Runs = Runs(), out=sys.stdout
) -> dict[str, dict[str, Any]]:
    from vsr.workflow.batch_progress import BatchProgress
    from vsr.workflow.config import check_config, effective_config, parse_items

    results = results.resolve()
    # The same checks as `vsr upscale` before any work: the config (dotted keys typed by the
    # schema), then the manifest; each title's source and container fit at its probe step.
    settings = effective_config(parse_items(list(runs.config)))
    check_config({**settings, "manifest": str(manifest), "results": str(results)})
    table = load_manifest(manifest, settings.get("models") or default_models())
    records = {video: title_record(results, video) for video in table.index}
    pending = [video for video, record in records.items() if record["status"] != "done"]
    for video in table.index:
        if records[video]["status"] == "done":
            print(progress_line(records[video]), file=out, flush=True)
    results.mkdir(parents=True, exist_ok=True)
    write_reports(results, records)
    with BatchProgress(results, records, pending, out, progress_line, write_reports) as progress:
        run_chunks(table.loc[pending], results, runs, on_chunk_done=progress.chunk_done)
    return records


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="vsr batch", description=__doc__.splitlines()[0])
    p.add_argument("manifest", type=Path)
    p.add_argument("-o", "--results", type=Path, default=Path("results"))
    Runs.add_arguments(p)
    args, extra = p.parse_known_args(argv)
    started = time.perf_counter()
    try:
        records = run_batch(args.manifest, args.results, Runs.from_args(args, extra))
    except VsrError as exc:
        print_error(exc)
        return 2
    done = sum(1 for r in records.values() if r["status"] == "done")
    elapsed = time.perf_counter() - started
    print(f"{done}/{len(records)} titles done in {elapsed:.0f} s; {args.results / 'archive.csv'}")
    return 0 if done == len(records) else 1


if __name__ == "__main__":
    raise SystemExit(main())
