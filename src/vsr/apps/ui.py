"""`vsr ui`: a Gradio demo app to upload a video, follow its upscaling and compare the result.

Local mode runs the workflow on this machine (`vsr.workflow.run.upscale_file`, one task at a
time in a background thread) and follows the files its steps write. S3 mode uploads to the trigger's
key convention `<prefix>/<anime|real>/<uuid>/<name>` and follows `<output>/<uuid>/status.json`.
Tasks are kept under `--workdir/<uuid>/` (task.json, the source, the result, comparison frames).
"""

from __future__ import annotations

import argparse
import dataclasses
import hmac
import html
import ipaddress
import os
import queue
import re
import shutil
import sys
import threading
import time
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vsr import WORKFLOW_ROOT
from vsr.errors import VsrError
from vsr.util import read_json, usable_cpus, write_json

if TYPE_CHECKING:
    import gradio as gr

MIB = 1024 * 1024
DEFAULT_MAX_UPLOAD_MB = 2048
FINISHED = ("done", "failed")
STAGE_LABELS = {
    "sending": "sending the video to S3",
    "queued": "queued",
    "waiting": "waiting for the trigger to pick the upload up",
    "probing": "probing the source",
    "splitting": "splitting into shards",
    "upscaling": "upscaling",
    "encoding": "encoding",
    "assembling": "assembling the final video",
    "uploading": "publishing the result to S3",
    "fetching": "fetching the result",
    "done": "done",
    "failed": "failed",
}
TABLE_HEADERS = ["created", "name", "type", "model", "mode", "status", "id"]
# System fonts only: the default theme would fetch web fonts, and the app must work offline.
SYSTEM_FONTS = ("ui-sans-serif", "system-ui", "sans-serif")
MONO_FONTS = ("ui-monospace", "monospace")


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


@dataclass(frozen=True)
class Settings:
    workdir: Path
    max_upload_bytes: int
    cores: int
    shard_frames: int | None
    s3_input: str | None  # s3://bucket/prefix uploads go to (S3 mode)
    s3_output: str | None  # s3://bucket/prefix where status.json appears (S3 mode)
    url_expiry_s: int
    trigger_timeout_s: float

    @property
    def mode(self) -> str:
        return "s3" if self.s3_input else "local"


def now_iso() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


def safe_name(name: str) -> str:
    """A file name that is safe as the last part of an S3 key and on disk."""
    cleaned = re.sub(r"[^\w .()+-]", "_", Path(name).name).lstrip(".- ")
    return cleaned[-200:] or "video.mp4"


def check_upload(path: str | None, max_bytes: int) -> tuple[Path, str, dict[str, Any]]:
    """The upload, its display name and probe; VsrError naming the file and the problem."""
    from vsr.cloud.trigger import VIDEO_EXTENSIONS
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


def local_progress(work: Path) -> dict[str, Any]:
    """Stage, shards and frames of a running local task, from the files its steps write."""
    from vsr.workflow.progress import progress_line

    timings = work / "timings"
    if not (timings / "probe.json").exists():
        return {"state": "probing"}
    try:
        total = len(read_json(work / "shards" / "index.json")["shards"])
    except (OSError, ValueError, KeyError):
        return {"state": "splitting"}
    upscaled = len(list(timings.glob("upscale-*.json")))
    encoded = len(list(timings.glob("encode-*.json")))
    state = "upscaling" if upscaled < total else "encoding" if encoded < total else "assembling"
    line = progress_line(work) or ""
    frames = re.search(r"upscaled (\d+)/(\d+) frames", line)
    done, frames_total = (int(frames[1]), int(frames[2])) if frames else (0, 0)
    if state != "upscaling":
        line = f"upscaled {done}/{frames_total} frames"  # its fps and ETA cover upscaling only
    return {
        "state": state,
        "shards_done": upscaled,
        "shards_total": total,
        "frames_done": done,
        "frames_total": frames_total,
        "detail": line,
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


def source_file(store: TaskStore, task: Task) -> Path:
    return store.folder(task.uuid) / "source" / task.name


def output_name(task: Task, container: str) -> str:
    return f"{Path(task.name).stem}_x4.{container}"


class LocalRunner:
    """Runs tasks one at a time on this machine, following their work folder while they run."""

    def __init__(self, store: TaskStore, settings: Settings):
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
        work = output.parent / f".vsr-work-{output.name}" / "results" / "video" / "work"
        stop = threading.Event()
        follower = threading.Thread(target=self._follow, args=(task.uuid, work, stop), daemon=True)
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
            summary = read_json(output.with_name(output.stem + ".summary.json"))
            finish(self.store, task.uuid, output, summary)
        except Exception as error:  # noqa: BLE001 - the worker must survive any task's failure
            stop.set()
            follower.join()
            fail(self.store, task.uuid, error)

    def _follow(self, task_id: str, work: Path, stop: threading.Event) -> None:
        while not stop.wait(1.0):
            self.store.update(task_id, **local_progress(work))


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

    def __init__(self, store: TaskStore, settings: Settings):
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
        from vsr.cloud.trigger import Rejected, validate_upload
        from vsr.cloud.trigger import Settings as TriggerSettings

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
        from vsr.cloud.s3 import S3Uri, fetch, get_json, presign_get

        self.store.update(task_id, state="fetching")
        result = S3Uri.parse(status["output"])
        output = self.store.folder(task_id) / "output" / Path(result.key).name
        fetch(str(result), output, self.settings.workdir / ".s3-cache")
        url = presign_get(result, self.settings.url_expiry_s)
        summary = get_json(self.output.child(task_id, "summary.json"))
        finish(self.store, task_id, output, summary, url=url, s3_output=str(result))


def status_changes(status: dict[str, Any]) -> dict[str, Any]:
    """Task fields from a status.json document written by the S3 job."""
    state = status["state"] if status["state"] in STAGE_LABELS else "queued"
    changes: dict[str, Any] = {"state": state}
    if "shards_total" in status:
        changes.update(shards_done=status["shards_done"], shards_total=status["shards_total"])
    return changes


class App:
    """The state behind the page: settings, tasks and the runner of the chosen mode."""

    def __init__(self, settings: Settings):
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
            created=now_iso(),
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


def status_text(task: Task) -> str:
    label = STAGE_LABELS.get(task.state, task.state)
    if task.state == "upscaling" and task.shards_total:
        return f"{label} {task.shards_done}/{task.shards_total} shards"
    return f"failed: {task.detail}" if task.state == "failed" else label


def progress_html(task: Task | None) -> str:
    if task is None:
        return '<div class="vsr-progress" data-state="none">No task yet: upload a video.</div>'
    fraction = progress_fraction(task)
    lines = [f"<b>{html.escape(task.name)}</b> ({task.video_type}, {task.model or 'default'})"]
    lines.append(f"stage: {html.escape(STAGE_LABELS.get(task.state, task.state))}")
    if task.started:
        took = (task.finished or time.time()) - task.started
        lines.append(f"{'took' if task.finished else 'elapsed'} {took:.0f} s")
    if task.shards_total:
        lines.append(f"shards upscaled: {task.shards_done}/{task.shards_total}")
    if task.upscale_fps:
        rate = f"{task.upscale_fps:.2f} frames/s"
        lines.append(f"upscaling ran at {rate} over {task.frames_total} frames")
    if task.detail:
        lines.append(html.escape(task.detail))
    bar = f'<progress max="1" value="{fraction:.3f}" style="width:100%"></progress>'
    body = "<br>".join(lines)
    return (
        f'<div class="vsr-progress" data-state="{task.state}" data-task="{task.uuid}">'
        f"{body}<br>{bar}</div>"
    )


def progress_fraction(task: Task) -> float:
    if task.state == "done":
        return 1.0
    if task.frames_total and task.frames_done:
        return 0.9 * task.frames_done / task.frames_total
    if task.shards_total:
        return 0.9 * task.shards_done / task.shards_total
    return 0.0


def message_html(text: str, kind: str) -> str:
    colour = "#b00020" if kind == "error" else "#1b5e20"
    return (
        f'<div class="vsr-message" data-kind="{kind}" style="color:{colour};font-weight:600">'
        f"{html.escape(text)}</div>"
    )


def download_html(task: Task) -> str:
    if not task.url:
        return ""
    name = html.escape(Path(task.output).name)
    return (
        f'<a id="download-link" href="{html.escape(task.url)}" download="{name}" '
        f'target="_blank" rel="noopener">Download {name} (link valid for '
        f"{html.escape(str(task_expiry_hours(task)))} h)</a>"
    )


def task_expiry_hours(task: Task) -> str:
    match = re.search(r"X-Amz-Expires=(\d+)", task.url)
    return f"{int(match[1]) / 3600:g}" if match else "?"


def model_choices() -> list[tuple[str, str]]:
    from vsr.models.registry import list_models

    choices = []
    for spec in list_models():
        default = f", default for {'/'.join(spec.default_for)}" if spec.default_for else ""
        choices.append((f"{spec.name} ({spec.arch}{default})", spec.name))
    return choices


def build_ui(app: App) -> gr.Blocks:
    import gradio as gr

    from vsr.cloud.trigger import VIDEO_EXTENSIONS, VIDEO_TYPES
    from vsr.models.registry import DEFAULT_MODEL

    s3_mode = app.settings.mode == "s3"
    # Uploads older than a day leave Gradio's cache (each task keeps its own copy of the source).
    with gr.Blocks(title="vsr: 4x video upscaling", delete_cache=(3600, 86400)) as blocks:
        gr.Markdown(
            "# 4x video super-resolution\n"
            f"Mode: **{app.settings.mode}**"
            + (f" (uploads to `{app.settings.s3_input}`)" if s3_mode else " (runs on this machine)")
            + f" · upload limit {app.settings.max_upload_bytes / MIB:g} MiB"
        )
        current = gr.State(None)  # the task this page follows
        shown = gr.State(None)  # (task, state) the result area was last drawn for
        with gr.Row():
            with gr.Column():
                upload = gr.File(
                    label="Video",
                    file_types=[f".{ext}" for ext in sorted(VIDEO_EXTENSIONS)],
                    elem_id="upload",
                )
                video_type = gr.Radio(list(VIDEO_TYPES), value="real", label="Type", elem_id="type")
                model = gr.Dropdown(
                    model_choices(),
                    value=DEFAULT_MODEL["real"],
                    label="Model"
                    + (" (S3 mode: the cluster uses the type's default)" if s3_mode else ""),
                    interactive=not s3_mode,
                    elem_id="model",
                )
                start = gr.Button("Start", variant="primary", elem_id="start")
                message = gr.HTML(elem_id="message")
            with gr.Column():
                progress = gr.HTML(progress_html(None), elem_id="progress")
        with gr.Column(visible=False) as result_area:
            gr.Markdown("## Result: left = source (bicubic 4x), right = AI 4x")
            slider = gr.ImageSlider(label="Compare a frame", type="filepath", elem_id="compare")
            with gr.Row():
                before = gr.Video(label="Source", elem_id="before", interactive=False)
                after = gr.Video(label="Upscaled 4x", elem_id="after", interactive=False)
            download = gr.DownloadButton("Download the result", elem_id="download", visible=False)
            link = gr.HTML(elem_id="download-s3")
        gr.Markdown("## Tasks (click a row to show it)")
        tasks = gr.Dataframe(
            headers=TABLE_HEADERS, value=app.rows() or None, interactive=False, elem_id="tasks"
        )
        rows = gr.State(app.rows())
        timer = gr.Timer(1.0)

        video_type.change(lambda t: DEFAULT_MODEL[t], video_type, model)

        def on_start(file: str | None, kind: str, name: str | None) -> tuple[str, str | None]:
            try:
                task = app.start(file, kind, name)
            except VsrError as error:
                return message_html(f"Not started: {error}", "error"), gr.skip()
            return message_html(f"Started {task.name} (task {task.uuid})", "ok"), task.uuid

        start.click(on_start, [upload, video_type, model], [message, current])

        def on_select(table_rows: list[list[str]], event: gr.SelectData) -> str | None:
            row = event.index[0] if isinstance(event.index, list | tuple) else event.index
            return table_rows[row][-1] if 0 <= row < len(table_rows) else gr.skip()

        # Gradio finds the event argument by its annotation, which postponed evaluation hides.
        on_select.__annotations__["event"] = gr.SelectData
        tasks.select(on_select, rows, current)

        result_outputs = [result_area, slider, before, after, download, link]

        def on_tick(task_id: str | None, drawn: tuple | None, old_rows: list) -> tuple:
            task = app.store.get(task_id)
            new_rows = app.rows()
            table = (new_rows, new_rows) if new_rows != old_rows else (gr.skip(), gr.skip())
            key = (task.uuid, task.state) if task else None
            result = result_updates(app, task) if key != drawn else [gr.skip()] * 6
            return (progress_html(task), *table, key, *result)

        timer.tick(
            on_tick,
            [current, shown, rows],
            [progress, tasks, rows, shown, *result_outputs],
            show_progress="hidden",
        )
    return blocks


def result_updates(app: App, task: Task | None) -> list[Any]:
    """Values for the result area: hidden until the task is done."""
    import gradio as gr

    if task is None or task.state != "done":
        return [gr.update(visible=False), None, None, None, gr.update(visible=False), ""]
    compare = app.store.folder(task.uuid) / "compare"
    if task.url:  # S3 mode: a fresh presigned URL, so an old task's link still works
        task = refresh_url(app, task)
    return [
        gr.update(visible=True),
        (str(compare / "before.png"), str(compare / "after.png")),
        str(source_file(app.store, task)),
        task.output,
        gr.update(value=task.output, visible=not task.url),
        download_html(task),
    ]


def refresh_url(app: App, task: Task) -> Task:
    from vsr.cloud.s3 import S3Uri, presign_get

    url = presign_get(S3Uri.parse(task.s3_output), app.settings.url_expiry_s)
    return app.store.update(task.uuid, url=url)


def make_auth(env: dict[str, str], local_only: bool) -> Callable[[str, str], bool] | None:
    """The login check from GRADIO_USERNAME/GRADIO_PASSWORD; None only when run --local-only."""
    user, password = env.get("GRADIO_USERNAME", ""), env.get("GRADIO_PASSWORD", "")
    if bool(user) != bool(password):
        missing = "GRADIO_PASSWORD" if user else "GRADIO_USERNAME"
        raise VsrError(missing, "not set (set both GRADIO_USERNAME and GRADIO_PASSWORD)")
    if not user:
        if local_only:
            return None
        raise VsrError(
            "GRADIO_USERNAME",
            "not set: set GRADIO_USERNAME and GRADIO_PASSWORD for the login, "
            "or run `vsr ui --local-only` (no login, bound to 127.0.0.1)",
        )

    def check(given_user: str, given_password: str) -> bool:
        # Constant-time comparisons; both are evaluated so timing does not tell which was wrong.
        ok_user = hmac.compare_digest(given_user.encode(), user.encode())
        ok_password = hmac.compare_digest(given_password.encode(), password.encode())
        return ok_user and ok_password

    return check


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vsr ui", description="Gradio demo app (login required)")
    parser.add_argument(
        "--local-only", action="store_true", help="no login allowed; binds 127.0.0.1 only"
    )
    parser.add_argument("--host", help="address to bind (default 127.0.0.1; 0.0.0.0 for a team)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
    parser.add_argument("--workdir", type=Path, default=WORKFLOW_ROOT / "work" / "ui")
    parser.add_argument("--max-upload-mb", type=float, default=DEFAULT_MAX_UPLOAD_MB)
    parser.add_argument("--cores", type=int, default=usable_cpus())
    parser.add_argument("--shard-frames", type=int)
    parser.add_argument("--s3-input", help="S3 mode: s3://bucket/prefix the trigger watches")
    parser.add_argument("--s3-output", help="S3 mode: s3://bucket/prefix of results/status.json")
    parser.add_argument("--url-expiry-s", type=int, default=24 * 3600)
    parser.add_argument(
        "--trigger-timeout-s", type=float, default=600, help="S3 mode: wait for status.json"
    )
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    if bool(args.s3_input) != bool(args.s3_output):
        raise VsrError("--s3-input/--s3-output", "S3 mode needs both")
    if args.max_upload_mb <= 0:
        raise VsrError("--max-upload-mb", f"must be positive, not {args.max_upload_mb}")
    return Settings(
        workdir=args.workdir.resolve(),
        max_upload_bytes=int(args.max_upload_mb * MIB),
        cores=args.cores,
        shard_frames=args.shard_frames,
        s3_input=args.s3_input,
        s3_output=args.s3_output,
        url_expiry_s=args.url_expiry_s,
        trigger_timeout_s=args.trigger_timeout_s,
    )


def main(argv: list[str]) -> int:
    """`vsr ui [--local-only] [--host H] [--port P] [--s3-input URI --s3-output URI] ...`."""
    args = parse_args(argv)
    host = args.host or "127.0.0.1"
    try:
        auth = make_auth(dict(os.environ), args.local_only)
        if auth is None and not is_loopback(host):
            raise VsrError(host, "--local-only (no login) binds loopback only")
        settings = settings_from(args)
        settings.workdir.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("GRADIO_TEMP_DIR", str(settings.workdir / ".uploads"))
        os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
        app = App(settings)
    except VsrError as error:
        print(f"vsr: error: {error}", file=sys.stderr)
        return 2
    launch(app, host, args.port, auth)
    return 0


def launch(app: App, host: str, port: int, auth: Callable[[str, str], bool] | None) -> None:
    import gradio as gr

    theme = gr.themes.Default(font=list(SYSTEM_FONTS), font_mono=list(MONO_FONTS))
    build_ui(app).queue(default_concurrency_limit=4).launch(
        server_name=host,
        server_port=port,
        auth=auth,
        auth_message="vsr demo: log in with the credentials you were given",
        max_file_size=app.settings.max_upload_bytes,
        allowed_paths=[str(app.settings.workdir)],
        ssr_mode=False,
        theme=theme,
        footer_links=[],
    )
