"""The UI's tasks, one per upload, kept in memory and in `<workdir>/<uuid>/task.json`, and the
checks an upload passes before a task is made."""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vsr.errors import VsrError
from vsr.names import STAGES
from vsr.util import read_json, write_json

MIB = 1024 * 1024


@dataclass(frozen=True)
class Task:
    uuid: str
    name: str
    video_type: str
    model: str
    mode: str  # local | s3
    created: str
    state: str = "queued"
    shards_done: int = 0
    shards_total: int = 0
    frames_done: int = 0
    frames_total: int = 0
    detail: str = ""  # the progress line, or the error
    output: str = ""  # the result on this machine
    url: str = ""  # presigned download URL (S3 mode)
    started: float = 0.0  # epoch seconds when work on it began
    upscale_fps: float = 0.0  # measured by the workflow (its summary.json)
    finished: float = 0.0
    s3_output: str = ""  # s3:// URI of the result (S3 mode)


class TaskStore:
    """Tasks in memory, each mirrored to `<root>/<uuid>/task.json` so the list survives restarts."""

    def __init__(self, root: Path):
        self.root = root
        self.lock = threading.Lock()
        self.tasks: dict[str, Task] = {}
        for path in sorted(root.glob("*/task.json")):
            try:
                task = Task(**read_json(path))
            except (OSError, ValueError, TypeError):
                continue  # not ours, or half-written by an older version
            self.tasks[task.uuid] = task

    def folder(self, task_id: str) -> Path:
        return self.root / task_id

    def add(self, task: Task) -> Task:
        with self.lock:
            self.tasks[task.uuid] = task
            write_json(self.folder(task.uuid) / "task.json", dataclasses.asdict(task))
        return task

    def update(self, task_id: str, **changes: Any) -> Task:
        with self.lock:
            task = dataclasses.replace(self.tasks[task_id], **changes)
            if task != self.tasks[task_id]:
                self.tasks[task_id] = task
                write_json(self.folder(task_id) / "task.json", dataclasses.asdict(task))
        return task

    def get(self, task_id: str | None) -> Task | None:
        with self.lock:
            return self.tasks.get(task_id or "")

    def newest_first(self) -> list[Task]:
        with self.lock:
            return sorted(self.tasks.values(), key=lambda t: t.created, reverse=True)


def utc_timestamp() -> str:
    """A task's creation time as the table shows it: UTC, and sorts as text."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())


def safe_name(name: str) -> str:
    """A file name that is safe as the last part of an S3 key and on disk."""
    cleaned = re.sub(r"[^\w .()+-]", "_", Path(name).name).lstrip(".- ")
    return cleaned[-200:] or "video.mp4"


def check_upload(path: str | None, max_bytes: int) -> tuple[Path, str, dict[str, Any]]:
    """The upload, its display name and probe; VsrError naming the file and the problem."""
    from vsr.cloud.uploads import VIDEO_EXTENSIONS
    from vsr.media.probe import probe

    if not path:
        raise VsrError("upload", "choose a video file first")
    source = Path(path)
    name = safe_name(source.name)
    size = source.stat().st_size if source.exists() else 0
    if size == 0:
        raise VsrError(name, "file is empty (0 bytes)")
    if size > max_bytes:
        raise VsrError(name, f"file is {size / MIB:.1f} MiB, over the limit of {max_bytes / MIB:g}")
    if source.suffix.lower().lstrip(".") not in VIDEO_EXTENSIONS:
        allowed = ", ".join(sorted(VIDEO_EXTENSIONS))
        raise VsrError(name, f"not a video file name (extensions: {allowed})")
    try:
        return source, name, probe(source)
    except VsrError as error:
        raise VsrError(name, error.problem) from None


def source_file(store: TaskStore, task: Task) -> Path:
    return store.folder(task.uuid) / "source" / task.name


def output_name(task: Task, container: str) -> str:
    return f"{Path(task.name).stem}_x4.{container}"


def status_text(task: Task) -> str:
    label = STAGES.get(task.state, task.state)
    if task.state == "upscaling" and task.shards_total:
        return f"{label} {task.shards_done}/{task.shards_total} shards"
    return f"failed: {task.detail}" if task.state == "failed" else label
