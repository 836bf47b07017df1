"""Keep the Slurm executor's job-status queries on the command the cluster can answer.

The Slurm executor plugin picks its status command on every poll: it asks `scontrol show config`
for MinJobAge and, when that one call fails or times out (10 s; a busy controller, a loaded head
node), switches to `sacct`. On a cluster without accounting (`AccountingStorageType =
accounting_storage/none`, ParallelCluster's default) `sacct` cannot answer: the poll returns
nothing, the plugin stops tracking the jobs it asked about, and the run waits for them for ever.

`steady_min_job_age()`, called when the profile loads, reads MinJobAge once and makes a failed
lookup answer with that value, so one slow `scontrol` no longer decides the status command.

The plugin also keeps waiting for a job its status query does not list ("not in the accounting
yet"). A controller that crashes (SIGKILL, power loss) restarts on its last periodic state save
and may have forgotten the jobs submitted just before, or start again a job that already ran
(the node refuses the second copy and Slurm holds the job): the run would wait for them for
ever. `report_lost_jobs()` cancels such a job and reports it failed once two polls in a row
found it so, and Snakemake submits it again (`retries`). Only where MinJobAge outlasts the plugin's
longest poll interval: a finished job is then always seen finished before Slurm forgets it.

`steady_status()` installs both; the Slurm profile calls it when it loads.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

from vsr.workflow.cluster import slurm_output

_MIN_JOB_AGE = re.compile(r"^\s*MinJobAge\s*=\s*(\d+)", re.MULTILINE)
LONGEST_POLL_S = 180  # the plugin's largest interval between status checks
LOST_AFTER_POLLS = 2  # polls in a row on which a job was lost or held
HELD_AFTER_FAILED_LAUNCH = "launch failed requeued held"


def read_min_job_age(config_text: str) -> int | None:
    """MinJobAge in seconds from `scontrol show config` output (Slurm prints it in seconds)."""
    match = _MIN_JOB_AGE.search(config_text)
    return int(match.group(1)) if match else None


def with_fallback(lookup: Callable[[], int | None], known: int) -> Callable[[], int | None]:
    """`lookup`, answering `known` where it fails."""

    def min_job_age() -> int | None:
        age = lookup()
        return known if age is None else age

    min_job_age.steady = True  # type: ignore[attr-defined]
    return min_job_age


def steady_min_job_age(config_text: str | None = None) -> int | None:
    """Install the fallback in the Slurm plugin; the MinJobAge it falls back to, or None where
    there is no plugin or no answer now (then the plugin is left as it is)."""
    try:
        import snakemake_executor_plugin_slurm as plugin
    except ImportError:
        return None
    if config_text is None:
        config_text = slurm_output(["scontrol", "show", "config"]) or ""
    known = read_min_job_age(config_text)
    lookup = getattr(plugin, "get_min_job_age", None)
    if known is None or lookup is None or getattr(lookup, "steady", False):
        return known
    plugin.get_min_job_age = with_fallback(lookup, known)
    return known


def known_jobs() -> dict[str, str] | None:
    """{job id: squeue's reason} for every job the controller knows now, in any state (finished
    ones until MinJobAge), or None where it does not answer."""
    output = slurm_output(["squeue", "-h", "-t", "all", "-o", "%i|%r"])
    if output is None:
        return None
    jobs = dict(line.split("|", 1) for line in output.splitlines() if "|" in line)
    for job_id, reason in list(jobs.items()):  # a pending array prints as 123_[1-5]
        jobs.setdefault(job_id.split("_")[0], reason)
    return jobs


def _stuck(job_id: str, jobs: dict[str, str]) -> str | None:
    """Why the job can never finish as it stands, or None."""
    reason = jobs.get(job_id, jobs.get(job_id.split("_")[0]))
    if reason is None:
        return "is unknown to the controller (lost when slurmctld restarted from an older state)"
    if reason.replace("_", " ") == HELD_AFTER_FAILED_LAUNCH:
        # After a controller crash Slurm may start a job that already ran: the node refuses a
        # second copy and the job is held until someone releases it.
        return f"is held by Slurm ({reason})"
    return None


def report_lost_jobs(
    executor: type, known: Callable[[], dict[str, str] | None] = known_jobs
) -> bool:
    """Wrap `executor.check_active_jobs` (the plugin's poll) so that a job the controller has
    forgotten, or holds after a failed launch, on LOST_AFTER_POLLS polls in a row is cancelled
    and reported failed; False where already wrapped."""
    poll = executor.check_active_jobs
    if getattr(poll, "reports_lost", False):
        return False

    async def check_active_jobs(self: Any, active_jobs: list[Any]) -> AsyncIterator[Any]:
        missing: dict[str, int] = self.__dict__.setdefault("_vsr_stuck_polls", {})
        still = [job async for job in poll(self, active_jobs)]
        jobs = known() if still else None
        for job in still:
            job_id = str(job.external_jobid)
            why = None if jobs is None else _stuck(job_id, jobs)
            if why is None:
                missing.pop(job_id, None)
                yield job
                continue
            missing[job_id] = missing.get(job_id, 0) + 1
            if missing[job_id] < LOST_AFTER_POLLS:
                yield job
                continue
            del missing[job_id]
            slurm_output(["scancel", job_id])
            self.report_job_error(
                job, msg=f"SLURM job {job_id} {why}; cancelled, Snakemake submits it again. "
            )

    check_active_jobs.reports_lost = True  # type: ignore[attr-defined]
    executor.check_active_jobs = check_active_jobs
    return True


def steady_status(config_text: str | None = None) -> int | None:
    """`steady_min_job_age()`, and `report_lost_jobs()` where MinJobAge outlasts the longest
    poll interval; the MinJobAge read."""
    known = steady_min_job_age(config_text)
    if known is not None and known > LONGEST_POLL_S:
        import snakemake_executor_plugin_slurm as plugin

        report_lost_jobs(plugin.Executor)
    return known
