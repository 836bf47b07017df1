"""The state behind the page: settings, the task store and the runner of the chosen mode."""

from __future__ import annotations

import shutil
import uuid as uuidlib

from vsr.apps.ui.local_runner import LocalRunner
from vsr.apps.ui.s3_runner import S3Runner
from vsr.apps.ui.settings import UiSettings
from vsr.apps.ui.tasks import (
    Task,
    TaskStore,
    check_upload,
    source_file,
    status_text,
    utc_timestamp,
)


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
