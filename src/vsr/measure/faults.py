"""Faults on the multi-node test cluster, and what recovering from them costs: `make bench-faults`.

Each scenario runs two short titles (bicubic, two shards each) through `--profile slurm` on the
4-node cluster (`make cluster-up NODES=4`), injects one fault, and compares every final with a
fault-free run's, byte for byte:

- node lost: every process on the node under a running GPU job is killed (`lose-node`); the
  node goes DOWN, Slurm requeues the job on the other GPU node;
- head killed: the head node's Snakemake is SIGKILLed once a shard is done, and started again:
  finished shards are not redone, jobs left running finish or are submitted again (same bytes);
- controller restart: slurmctld is stopped (SIGTERM, as a restart does) under a running GPU job
  and started again 5 s later;
- two batches: `vsr batch` twice at once over different titles into one results folder.

Printed per scenario: faults injected, titles lost (must be 0), finals differing from the
fault-free run (must be 0), extra compute for recovery (core-seconds of job runs spent again:
every run of a job but its last, from Slurm's job completion log; the difference of the whole
run's core-seconds to the fault-free run's is in the notes, but on a shared machine it is mostly
noise) and time to recover: from the fault until what it took down runs again (the lost node's
job restarted elsewhere; the head node's Snakemake started again, unlock included; slurmctld
answering again). The run's wall time over the fault-free run's is in the notes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from vsr.measure.fault_runs import (
    RUN_TIMEOUT_S,
    SUBMITTED,
    FaultError,
    Run,
    cluster,
    core_seconds,
    finals,
    finished_shards,
    job_runs,
    jobs,
    make_titles,
    node_state,
    recovery_core_seconds,
    replace_drained_nodes,
    running,
    start_batch,
    start_snakemake,
    unlock,
    wait_until,
)

TITLES = ["ta", "tb"]


@dataclass
class Outcome:
    scenario: str
    faults: int
    titles: int
    lost: int  # titles without a final
    differing: int  # finals whose bytes differ from the fault-free run's
    extra_core_s: (
        float | None
    )  # core-seconds of job runs spent again (all runs of a job but its last)
    recover_s: float | None  # from the fault until the lost work runs again
    notes: dict[str, object] = field(default_factory=dict)


@dataclass
class Reference:
    names: list[str]
    finals: dict[str, bytes]
    wall_s: float
    core_s: float


def reference(folder: Path, names: list[str] = TITLES) -> Reference:
    """The fault-free run of these titles that scenarios over them are compared with."""
    work = folder / f"reference-{'-'.join(names)}"
    run = start_snakemake(make_titles(folder / "titles", names), work, "snakemake.log")
    if run.wait() != 0:
        raise FaultError(f"the fault-free run failed:\n{run.text()[-3000:]}")
    made = finals(work / "results", names)
    missing = [name for name, path in made.items() if path is None]
    if missing:
        raise FaultError(f"the fault-free run left no final for {missing}")
    data = {name: path.read_bytes() for name, path in made.items() if path}
    return Reference(names, data, run.wall_s, core_seconds(run.job_ids(), run.started_at))


def spent_again(job_ids: list[str], since: float) -> float:
    return recovery_core_seconds(job_ids, since, {j.job_id: j.comment for j in jobs(job_ids)})


def compare(results: Path, ref: Reference) -> tuple[int, int]:
    """(titles lost, finals differing from the reference)."""
    made = finals(results, ref.names)
    lost = sum(1 for path in made.values() if path is None)
    differing = sum(1 for n, p in made.items() if p is not None and p.read_bytes() != ref.finals[n])
    return lost, differing


def node_lost(folder: Path, ref: Reference) -> Outcome:
    work = folder / f"node-lost-{'-'.join(ref.names)}"
    run = start_snakemake(make_titles(folder / "titles", ref.names), work, "snakemake.log")
    victim = wait_until("running GPU job", lambda: running(run, "upscale_encode"), run)
    lost_at, lost_epoch = time.monotonic(), time.time()
    cluster("lose-node", victim.node)
    wait_until(f"{victim.node} DOWN", lambda: node_state(victim.node).startswith("down"), run)
    down_after = time.monotonic() - lost_at
    code = run.wait()
    cluster("up", "--nodes", "4")  # the node is replaced (ParallelCluster starts a new one)
    if code != 0:
        raise FaultError(f"the run with a lost node failed:\n{run.text()[-3000:]}")
    records = jobs(run.job_ids())
    again = [j for j in records if j.comment == victim.comment]
    restarted = max(r.start for r in job_runs([j.job_id for j in again], run.started_at))
    lost, differing = compare(work / "results", ref)
    return Outcome(
        "node lost", 1, len(ref.names), lost, differing,
        spent_again(run.job_ids(), run.started_at), restarted - lost_epoch,
        {"core_s_vs_fault_free": core_seconds(run.job_ids(), run.started_at) - ref.core_s,
         "wall_vs_fault_free_s": round(run.wall_s - ref.wall_s, 1),
         "node": victim.node, "job": victim.job_id, "down_after_s": round(down_after, 1),
         "ran_again_on": sorted({j.node for j in again}),
         "restarts": sum(j.restarts for j in again) + len(again) - 1},
    )  # fmt: skip


def head_killed(folder: Path, ref: Reference) -> Outcome:
    work = folder / "head-killed"
    manifest = make_titles(folder / "titles", ref.names)
    first = start_snakemake(manifest, work, "first.log")
    done = wait_until("finished GPU job", lambda: finished_shards(first), first)
    first.kill()  # the head node's Snakemake dies; its Slurm jobs go on
    killed_at = time.monotonic()
    segments = {key: work / "results" / key.split("/")[0] / "work" / "segments" for key in done}
    kept = {
        key: (path / f"{key.split('/')[1]}.mp4").stat().st_mtime_ns
        for key, path in segments.items()
    }
    orphans = [j.job_id for j in jobs(first.job_ids()) if j.state in ("RUNNING", "PENDING")]
    unlock(manifest, work)
    second = start_snakemake(manifest, work, "second.log")
    back_after = second.started - killed_at
    if second.wait() != 0:
        raise FaultError(f"the restarted run failed:\n{second.text()[-3000:]}")
    redone = sorted(
        key
        for key, mtime in kept.items()
        if (segments[key] / f"{key.split('/')[1]}.mp4").stat().st_mtime_ns != mtime
    )
    resubmitted = [j.comment for j in jobs(second.job_ids()) if j.rule == "upscale_encode"]
    lost, differing = compare(work / "results", ref)
    ids = first.job_ids() + second.job_ids()
    return Outcome(
        "head node killed", 1, len(ref.names), lost, differing,
        spent_again(ids, first.started_at), back_after,
        {"core_s_vs_fault_free": core_seconds(ids, first.started_at) - ref.core_s,
         "wall_vs_fault_free_s": round(first.wall_s + second.wall_s - ref.wall_s, 1),
         "finished_before_kill": sorted(done), "redone": redone,
         "orphans_running_at_kill": len(orphans), "resubmitted_gpu_jobs": len(resubmitted)},
    )  # fmt: skip


def controller_restart(
    folder: Path, ref: Reference, down_s: float = 5, crash: bool = False
) -> Outcome:
    """slurmctld stopped (or, `crash`, killed with SIGKILL) under a running GPU job and started
    again on its saved state."""
    work = folder / ("controller-crash" if crash else "controller-restart")
    run = start_snakemake(make_titles(folder / "titles", ref.names), work, "snakemake.log")
    wait_until("running GPU job", lambda: running(run, "upscale_encode"), run)
    killed_at = time.monotonic()
    # Returns once the controller answers again.
    cluster("restart-controller", "--down-s", str(down_s), *(["--crash"] if crash else []))
    back_after = time.monotonic() - killed_at
    replaced: set[str] = set()
    while run.process.poll() is None and run.wall_s < RUN_TIMEOUT_S:
        # A controller restored from an older state may start a job again that already ran on
        # a node; the node refuses the copy and Slurm drains it.
        replaced.update(replace_drained_nodes())
        time.sleep(1)
    if run.wait() != 0:
        raise FaultError(f"the run across a controller restart failed:\n{run.text()[-3000:]}")
    lost, differing = compare(work / "results", ref)
    text = run.text()
    return Outcome(
        "slurmctld crash" if crash else "slurmctld restart", 1, len(ref.names), lost, differing,
        spent_again(run.job_ids(), run.started_at), back_after,
        {"core_s_vs_fault_free": core_seconds(run.job_ids(), run.started_at) - ref.core_s,
         "wall_vs_fault_free_s": round(run.wall_s - ref.wall_s, 1),
         "controller_down_s": down_s,
         "jobs_forgotten": text.count("is unknown to the controller"),
         "jobs_held": text.count("is held by Slurm"),
         "nodes_drained_and_replaced": sorted(replaced)},
    )  # fmt: skip


def two_batches(folder: Path, ref: Reference) -> Outcome:
    """Not a fault: two operators' batches side by side on one results folder."""
    results = folder / "shared-results"
    runs: dict[str, Run] = {}
    for name in ref.names:
        manifest = make_titles(folder / "titles", [name])
        runs[name] = start_batch(manifest, results, folder / f"batch-{name}.log")
    codes = {name: run.wait() for name, run in runs.items()}
    if any(codes.values()):
        logs = "\n".join(run.text()[-1500:] for run in runs.values())
        raise FaultError(f"a batch failed ({codes}):\n{logs}")
    nodes, strays = {}, {}
    for name in ref.names:
        chunk_logs = sorted((results / ".batch").glob("chunk-*/snakemake.log"))
        own = [p for p in chunk_logs if f"video={name}" in p.read_text(errors="replace")]
        ids = [i for p in own for i in SUBMITTED.findall(p.read_text(errors="replace"))]
        nodes[name] = sorted({j.node for j in jobs(ids)})
        strays[name] = [
            p.parent.name
            for p in own
            if any(f"video={other}" in p.read_text() for other in ref.names if other != name)
        ]
    lost, differing = compare(results, ref)
    return Outcome(
        "two batches, one results folder", 0, len(ref.names), lost, differing, None, None,
        {"nodes": nodes, "chunks_touching_other_titles": strays},
    )  # fmt: skip


SCENARIOS = {
    "node-lost": node_lost,
    "head-killed": head_killed,
    "controller-restart": controller_restart,
    "controller-crash": lambda folder, ref: controller_restart(folder, ref, crash=True),
    "two-batches": two_batches,
}


def table(outcomes: list[Outcome]) -> str:
    lines = [
        "| scenario | faults | titles lost | outputs differing | extra core-s | time to recover |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for o in outcomes:
        extra = f"{o.extra_core_s:.0f}" if o.extra_core_s is not None else "-"
        recover = f"{o.recover_s:.0f} s" if o.recover_s is not None else "-"
        lines.append(
            f"| {o.scenario} | {o.faults} | {o.lost} of {o.titles} | {o.differing} | "
            f"{extra} | {recover} |"
        )
    total = sum(o.faults for o in outcomes)
    lost, differing = sum(o.lost for o in outcomes), sum(o.differing for o in outcomes)
    lines.append(f"faults injected {total}, titles lost {lost}, outputs differing {differing}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vsr.measure.faults", description=__doc__)
    parser.add_argument("--only", nargs="*", choices=sorted(SCENARIOS), default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    cluster("up", "--nodes", "4")
    with tempfile.TemporaryDirectory(prefix="vsr-faults-", dir=args.workdir) as tmp:
        folder = Path(tmp)
        ref = reference(folder)
        print(f"fault-free run: {ref.wall_s:.0f} s, {ref.core_s:.0f} core-s", flush=True)
        outcomes = []
        for name in args.only or list(SCENARIOS):
            outcome = SCENARIOS[name](folder, ref)
            print(json.dumps(asdict(outcome)), flush=True)
            outcomes.append(outcome)
    print(table(outcomes))
    if args.json:
        args.json.write_text(json.dumps([asdict(o) for o in outcomes], indent=2))
    return 0 if not any(o.lost or o.differing for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
