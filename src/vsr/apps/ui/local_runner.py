"""Local mode: the workflow on this machine, one task at a time, followed through its files."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

from vsr.apps.ui.outcome import fail, finish
from vsr.apps.ui.settings import UiSettings
from vsr.apps.ui.tasks import Task, TaskStore, output_name, source_file
from vsr.layout import VideoPaths, summary_beside, upscale_video_paths
from vsr.names import FINISHED
from vsr.util import read_json
from vsr.workflow.config import effective_config
from vsr.workflow.progress import read_progress, upscale_text


def local_progress(video: VideoPaths, intermediate: str | None = None) -> dict[str, Any]:
    """Stage, shards and frames of a running local task, from the files its steps write."""
    progress = read_progress(video, intermediate)
    if progress.stage in ("probing", "splitting"):
        return {"state": progress.stage}
    frames = f"upscaled {progress.frames_done}/{progress.frames_total} frames"
    return {
        "state": progress.stage,
        "shards_done": progress.shards_done,
        "shards_total": progress.shards_total,
        "frames_done": progress.frames_done,
        "frames_total": progress.frames_total,
        # Frames/s and ETA cover upscaling only.
        "detail": upscale_text(progress) if progress.stage == "upscaling" else frames,
    }


class LocalRunner:
    """Runs tasks one at a time on this machine, following their work folder while they run."""

    def __init__(self, store: TaskStore, settings: UiSettings):
        self.store, self.settings = store, settings
        self.pending: queue.Queue[tuple[str, str]] = queue.Queue()
        # The design `vsr upscale` runs with (the bundled config): which jobs a shard goes through.
        self.intermediate = effective_config({})["intermediate"]
        self._fail_interrupted()
        threading.Thread(target=self._work, daemon=True, name="vsr-ui-local").start()

    def _fail_interrupted(self) -> None:
        for task in self.store.newest_first():
            if task.mode == "local" and task.state not in FINISHED:
                self.store.update(task.uuid, state="failed", detail="interrupted: the UI stopped")

    def submit(self, task: Task, info: dict[str, Any]) -> None:
        self.pending.put((task.uuid, info["container_out"]))

    def _work(self) -> None:
        while True:
            task_id, container = self.pending.get()
            self._run(self.store.get(task_id), container)

    def _run(self, task: Task | None, container: str) -> None:
        if task is None:
            return
        from vsr.workflow.run import upscale_file

        output = self.store.folder(task.uuid) / "output" / output_name(task, container)
        output.parent.mkdir(parents=True, exist_ok=True)
        video = upscale_video_paths(output)
        stop = threading.Event()
        follower = threading.Thread(target=self._follow, args=(task.uuid, video, stop), daemon=True)
        self.store.update(task.uuid, state="probing", started=time.time())
        follower.start()
        try:
            upscale_file(
                str(source_file(self.store, task)),
                str(output),
                video_type=task.video_type,
                model=task.model or None,
                shard_frames=self.settings.shard_frames,
                cores=self.settings.cores,
            )
            stop.set()
            follower.join()
            summary = read_json(summary_beside(output))
            finish(self.store, task.uuid, output, summary)
        except Exception as error:  # noqa: BLE001 - the worker must survive any task's failure
            stop.set()
            follower.join()
            fail(self.store, task.uuid, error)

    def _follow(self, task_id: str, video: VideoPaths, stop: threading.Event) -> None:
        while not stop.wait(1.0):
            self.store.update(task_id, **local_progress(video, self.intermediate))
