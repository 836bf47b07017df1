"""Small helpers shared by the steps: atomic writes, JSON, timings."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import secrets
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
# jemalloc keeps large activation buffers mapped instead of page-faulting them in again for every
# frame, as glibc malloc does: eager torch at 4.13 frames/s against 2.3-2.6 (docs/performance.md).
JEMALLOC_CONF = "oversize_threshold:0,dirty_decay_ms:-1,muzzy_decay_ms:-1"


def reexec_with_jemalloc() -> None:
    """Restart this process with jemalloc preloaded, once, when it is installed."""
    jemalloc = os.environ.get("VSR_JEMALLOC", JEMALLOC)
    if not Path(jemalloc).exists() or "jemalloc" in os.environ.get("LD_PRELOAD", ""):
        return
    env = dict(os.environ, LD_PRELOAD=jemalloc, MALLOC_CONF=JEMALLOC_CONF)
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)


def usable_cpus() -> int:
    """CPUs this process may run on: a Slurm job's or container's cpuset, not the whole node's
    (os.cpu_count() would start a thread per node core inside a 4-CPU job)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *, shared: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it into place only if the block succeeds.

    A reader (or a resumed workflow) never sees a half-written file under the final name. The
    temporary name keeps the suffix (writers pick the format from it). `shared=False`: one writer
    per path (a workflow job), whose rerun reuses the name; `shared=True`: several processes may
    write the same path at once (a cache on a shared filesystem), each under a name of its own.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    unique = f"-{secrets.token_hex(6)}" if shared else ""
    tmp = path.with_name(f".{path.stem}.partial{unique}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def link_or_copy(source: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Place `source` at `dest` atomically: a hard link where the filesystem allows, else a copy."""
    with atomic_output(dest, shared=True) as temp:
        try:
            os.link(source, temp)
        except OSError:
            shutil.copyfile(source, temp)
    return Path(dest)


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    return json.loads(Path(path).read_text())


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork+exec,
    so a process started by a bigger one (a worker, a re-exec) would report that one's peak."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:  # not Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    (line,) = [row for row in status.splitlines() if row.startswith("VmHWM:")]
    return int(line.split()[1]) / 1024


class StepTimer:
    """Times one step and writes {step, seconds, ...} to a JSON file the summary collects."""

    def __init__(self, step: str, out: str | os.PathLike[str] | None):
        self.step, self.out, self.extra = step, out, {}

    def __enter__(self) -> StepTimer:
        self.start, self.cpu_start = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None and self.out is not None:
            record = {
                "step": self.step,
                "seconds": time.perf_counter() - self.start,
                # All threads of this process: where a machine's cores went, step by step.
                "cpu_seconds": time.process_time() - self.cpu_start,
                "peak_rss_mb": peak_rss_mb(),
            }
            write_json(self.out, {**record, **self.extra})
