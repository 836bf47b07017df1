"""Keep the Slurm executor's job-status queries on the command the cluster can answer.

The Slurm executor plugin picks its status command on every poll: it asks `scontrol show config`
for MinJobAge and, when that one call fails or times out (10 s; a busy controller, a loaded head
node), switches to `sacct`. On a cluster without accounting (`AccountingStorageType =
accounting_storage/none`, ParallelCluster's default) `sacct` cannot answer: the poll returns
nothing, the plugin stops tracking the jobs it asked about, and the run waits for them for ever.

`steady_min_job_age()`, called when the profile loads, reads MinJobAge once and makes a failed
lookup answer with that value, so one slow `scontrol` no longer decides the status command.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from vsr.workflow.cluster import slurm_output

_MIN_JOB_AGE = re.compile(r"^\s*MinJobAge\s*=\s*(\d+)", re.MULTILINE)


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
