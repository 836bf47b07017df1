"""Small helpers shared by the steps: atomic writes, JSON, timings."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def usable_cpus() -> int:
    """CPUs this process may run on: a Slurm job's or container's cpuset, not the whole node's
    (os.cpu_count() would start a thread per node core inside a 4-CPU job)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it into place only if the block succeeds.

    A reader (or a resumed workflow) never sees a half-written file under the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def link_or_copy(source: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Place `source` at `dest` atomically: a hard link where the filesystem allows, else a copy."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    temp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}")
    try:
        os.link(source, temp)
    except OSError:
        shutil.copyfile(source, temp)
    os.replace(temp, dest)
    return dest


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
