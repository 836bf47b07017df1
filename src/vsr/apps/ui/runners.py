"""Running tasks: on this machine (the workflow, one task at a time) or through S3 (upload to the
trigger's key convention, follow status.json); `App` holds the store and the mode's runner."""

from __future__ import annotations

import queue
import shutil
import threading
import time
import uuid as uuidlib
from pathlib import Path
from typing import Any

from vsr.apps.ui.settings import UiSettings
from vsr.apps.ui.tasks import (
    Task,
    TaskStore,
    check_upload,
    output_name,
    source_file,
    status_text,
    utc_timestamp,
)
from vsr.errors import VsrError
from vsr.layout import VideoPaths, summary_beside, upscale_video_paths
from vsr.names import FINISHED, STAGES
from vsr.util import read_json
from vsr.workflow.progress import read_progress, upscale_text


def local_progress(video: VideoPaths) -> dict[str, Any]:
    """Stage, shards and frames of a running local task, from the files its steps write."""
    progress = read_progress(video)
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


def middle_frame(path: Path) -> Any:
    """The middle picture of a video as an RGB PIL image."""
    from vsr.media.probe import open_media, probe
    from vsr.media.videoio import decode_video

    info = probe(path)
    wanted = max(info["video"]["frames"] // 2, 0)
    with open_media(path) as container:
        image = None
        for number, frame in enumerate(decode_video(container, info["video"]["index"])):
            image = frame.to_image()
            if number >= wanted:
                break
    if image is None:
        raise VsrError(path, "no frame could be decoded for the comparison")
    return image.convert("RGB")


def comparison_frames(source: Path, result: Path, folder: Path) -> tuple[Path, Path]:
    """The same frame before (bicubic to the result's size) and after upscaling, as PNGs."""
    from PIL import Image

    after = middle_frame(result)
    before = middle_frame(source).resize(after.size, Image.Resampling.BICUBIC)
    folder.mkdir(parents=True, exist_ok=True)
    before.save(folder / "before.png")
    after.save(folder / "after.png")
    return folder / "before.png", folder / "after.png"


class LocalRunner:
    """Runs tasks one at a time on this machine, following their work folder while they run."""

    def __init__(self, store: TaskStore, settings: UiSettings):
        self.store, self.settings = store, settings
        self.pending: queue.Queue[tuple[str, str]] = queue.Queue()
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
            self.store.update(task_id, **local_progress(video))


def fail(store: TaskStore, task_id: str, error: Exception) -> None:
    store.update(task_id, state="failed", detail=" ".join(str(error).split()), finished=time.time())


def finish(
    store: TaskStore, task_id: str, output: Path, summary: dict[str, Any], **extra: Any
) -> None:
    """Make the comparison frames, then mark the task done (the page shows them at once)."""
    task = store.get(task_id)
    assert task is not None
    comparison_frames(source_file(store, task), output, store.folder(task_id) / "compare")
    fps = summary.get("stages", {}).get("upscale", {}).get("fps", 0.0)
    store.update(
        task_id,
        state="done",
        output=str(output),
        detail="",
        finished=time.time(),
        upscale_fps=float(fps or 0.0),
        **extra,
    )


class S3Runner:
    """Uploads to the trigger's key convention and follows the task's status.json."""

    def __init__(self, store: TaskStore, settings: UiSettings):
        from vsr.cloud.s3 import S3Uri

        self.store, self.settings = store, settings
        self.input = S3Uri.parse(settings.s3_input or "", want_key=False)
        self.output = S3Uri.parse(settings.s3_output or "", want_key=False)
        for task in store.newest_first():
            if task.mode != "s3" or task.state in FINISHED:
                continue
            if task.state == "sending":  # the upload never completed: nothing will run it
                fail(store, task.uuid, VsrError(task.name, "interrupted while sending to S3"))
            else:
                self._start(task.uuid, upload=False)  # follow its status.json again

    def check(self, name: str, video_type: str, size: int) -> None:
        """Refuse what the trigger would reject, before anything is uploaded."""
        from vsr.cloud.trigger import Rejected, TriggerSettings, validate_upload

        key = self.input.child(video_type, str(uuidlib.uuid4()), name).key
        rules = TriggerSettings(self.input.key, self.output, self.settings.max_upload_bytes)
        try:
            validate_upload(self.input.bucket, key, size, "-", rules)
        except Rejected as reason:
            raise VsrError(name, str(reason)) from None

    def submit(self, task: Task, info: dict[str, Any]) -> None:
        self._start(task.uuid, upload=True)

    def _start(self, task_id: str, upload: bool) -> None:
        threading.Thread(target=self._run, args=(task_id, upload), daemon=True).start()

    def _run(self, task_id: str, upload: bool) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            if upload:
                self._upload(task_id)
            self._follow(task_id)
        except (VsrError, ClientError, BotoCoreError, OSError) as error:
            fail(self.store, task_id, error)

    def _upload(self, task_id: str) -> None:
        from vsr.cloud.s3 import upload_verified

        task = self.store.get(task_id)
        assert task is not None
        self.store.update(task_id, state="sending", started=time.time())
        dest = self.input.child(task.video_type, task.uuid, task.name)
        upload_verified(source_file(self.store, task), dest)
        self.store.update(task_id, state="waiting", detail=f"uploaded to {dest}")

    def _follow(self, task_id: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        from vsr.cloud.s3 import get_json

        status_uri = self.output.child(task_id, "status.json")
        deadline = time.monotonic() + self.settings.trigger_timeout_s
        while True:
            try:
                status = get_json(status_uri)
            except (ClientError, BotoCoreError):
                status = {}  # not written yet, or S3 briefly unreachable
            if status.get("state") == "done":
                return self._fetch(task_id, status)
            if status.get("state") == "failed":
                raise VsrError(status_uri, status.get("error", "the job failed"))
            if status:
                deadline = float("inf")  # picked up: the job's own time limits apply now
                self.store.update(task_id, **status_changes(status))
            elif time.monotonic() > deadline:
                raise VsrError(
                    status_uri, "never written: is the trigger (Lambda or vsr watch) up?"
                )
            time.sleep(2.0)

    def _fetch(self, task_id: str, status: dict[str, Any]) -> None:
        from vsr.cloud.s3 import S3Uri, fetch_object, get_json, presign_get

        self.store.update(task_id, state="fetching")
        result = S3Uri.parse(status["output"])
        output = self.store.folder(task_id) / "output" / Path(result.key).name
        fetch_object(str(result), output, self.settings.workdir / ".s3-cache")
        url = presign_get(result, self.settings.url_expiry_s)
        summary = get_json(self.output.child(task_id, "summary.json"))
        finish(self.store, task_id, output, summary, url=url, s3_output=str(result))


def status_changes(status: dict[str, Any]) -> dict[str, Any]:
    """Task fields from a status.json document written by the S3 job."""
    state = status["state"] if status["state"] in STAGES else "queued"
    changes: dict[str, Any] = {"state": state}
    if "shards_total" in status:
        changes.update(shards_done=status["shards_done"], shards_total=status["shards_total"])
    return changes


class App:
    """The state behind the page: settings, tasks and the runner of the chosen mode."""

    def __init__(self, settings: UiSettings):
        self.settings = settings
        self.store = TaskStore(settings.workdir)
        self.runner: LocalRunner | S3Runner = (
            S3Runner(self.store, settings)
            if settings.mode == "s3"
            else LocalRunner(self.store, settings)
        )

    def start(self, upload: str | None, video_type: str, model: str | None) -> Task:
        """Check the upload and start a task; VsrError (nothing started) when it is refused."""
        source, name, info = check_upload(upload, self.settings.max_upload_bytes)
        if isinstance(self.runner, S3Runner):
            self.runner.check(name, video_type, source.stat().st_size)
            model = ""  # the cluster picks the type's default model
        task = Task(
            uuid=str(uuidlib.uuid4()),
            name=name,
            video_type=video_type,
            model=model or "",
            mode=self.settings.mode,
            created=utc_timestamp(),
            frames_total=info["video"]["frames"],
        )
        stored = source_file(self.store, task)
        stored.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, stored)  # the upload's temporary copy is Gradio's to clean up
        self.store.add(task)
        self.runner.submit(task, info)
        return task

    def rows(self) -> list[list[str]]:
        return [
            [t.created, t.name, t.video_type, t.model or "default", t.mode, status_text(t), t.uuid]
            for t in self.store.newest_first()
        ]
