"""S3 mode: upload to the trigger's key convention, follow the task's status.json."""

from __future__ import annotations

import threading
import time
import uuid as uuidlib
from pathlib import Path
from typing import Any

from vsr.apps.ui.outcome import fail, finish
from vsr.apps.ui.settings import UiSettings
from vsr.apps.ui.tasks import Task, TaskStore, source_file
from vsr.errors import VsrError
from vsr.names import FINISHED, STAGES


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
        from vsr.cloud.uploads import Rejected, TriggerSettings, validate_upload

        key = self.input.child(video_type, str(uuidlib.uuid4()), name).key
        rules = TriggerSettings(self.output, self.input.key, self.settings.max_upload_bytes)
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
