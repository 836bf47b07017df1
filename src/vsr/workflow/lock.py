"""One lock per work folder: two runs never share intermediates, a dead run never blocks.

The lock file holds the owner's PID, host and process start time. A second run on the same
work folder refuses at once, naming the owner. A lock whose owner is gone (killed, crashed,
rebooted: the PID is dead, or now belongs to another process) is stale and taken over; if the
dead owner's workflow (its own process group) still runs, that orphan is stopped first.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from pathlib import Path

from vsr.errors import VsrError

LOCK_NAME = ".vsr.lock"
CHILD_GRACE_S = 10.0


def _start_ticks(pid: int) -> str | None:
    """The process's start time (clock ticks since boot): tells a PID reused by another process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]


def _alive(pid: int, ticks: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if _zombie(pid):
        return False  # exited, not yet reaped
    current = _start_ticks(pid)
    return ticks is None or current is None or current == ticks


def _stop_group(pid: int, ticks: str | None) -> bool:
    """SIGTERM, then SIGKILL, the process group led by `pid`; True once its leader is gone."""
    for sig, wait_s in ((signal.SIGTERM, CHILD_GRACE_S), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + wait_s
        while _alive(pid, ticks):
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        else:
            return True
    return not _alive(pid, ticks)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return False


class WorkLock:
    """`with WorkLock(work_folder, target):` holds the folder for this process."""

    def __init__(self, folder: str | os.PathLike[str], target: str | os.PathLike[str]):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.target = str(target)  # named in the refusal: the output both runs want
        self.held = False

    def _owner(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}  # half-written by a run killed mid-write: stale

    def acquire(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "start_ticks": _start_ticks(os.getpid()),
            "since": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        for _ in range(5):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                owner = self._owner()
                if owner is None:
                    continue  # released meanwhile: try again
                if self._is_live(owner):
                    raise VsrError(
                        self.target,
                        f"another run (PID {owner['pid']} on {owner['host']}, since"
                        f" {owner.get('since', '?')}) is writing this output; lock {self.path}",
                    ) from None
                self._remove_stale(owner)
                continue
            with os.fdopen(fd, "w") as handle:
                json.dump(me, handle)
            self.held = True
            return
        raise VsrError(self.target, f"could not take the lock {self.path}")

    def _is_live(self, owner: dict) -> bool:
        if not owner or "pid" not in owner:
            return False
        if owner.get("host") != socket.gethostname():
            return True  # cannot see another host's processes: assume it still runs
        if _alive(int(owner["pid"]), owner.get("start_ticks")):
            return True
        child = owner.get("child")
        if child and _alive(int(child["pid"]), child.get("start_ticks")):
            # The owner is gone but its workflow (a process group of its own) still writes here:
            # an orphan, stopped before this run takes the folder over.
            return not _stop_group(int(child["pid"]), child.get("start_ticks"))
        return False

    def add_child(self, pid: int) -> None:
        """Record the workflow process this run started: the lock stays live while it runs."""
        owner = self._owner() or {}
        owner["child"] = {"pid": pid, "start_ticks": _start_ticks(pid)}
        tmp = self.path.with_name(f"{LOCK_NAME}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(owner))
        os.replace(tmp, self.path)

    def _remove_stale(self, owner: dict) -> None:
        # Rename, then look: of two runs that found the same stale lock, the one that moved a
        # live run's fresh lock aside puts it back.
        grave = self.path.with_name(f"{LOCK_NAME}.stale-{os.getpid()}")
        try:
            os.rename(self.path, grave)
        except FileNotFoundError:
            return
        try:
            moved = json.loads(grave.read_text())
        except (OSError, ValueError):
            moved = {}
        if moved != owner and self._is_live(moved):
            with contextlib.suppress(FileExistsError):
                os.link(grave, self.path)
        grave.unlink(missing_ok=True)

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> WorkLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
