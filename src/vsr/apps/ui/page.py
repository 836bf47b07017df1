"""The Gradio page: upload form, progress, result comparison, task table."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vsr.apps.ui.app import App
from vsr.apps.ui.tasks import MIB, Task, source_file
from vsr.errors import VsrError
from vsr.names import STAGES

if TYPE_CHECKING:
    import gradio as gr

TABLE_HEADERS = ["created", "name", "type", "model", "mode", "status", "id"]
# System fonts only: the default theme would fetch web fonts, and the app must work offline.
SYSTEM_FONTS = ("ui-sans-serif", "system-ui", "sans-serif")
MONO_FONTS = ("ui-monospace", "monospace")


def progress_html(task: Task | None) -> str:
    if task is None:
        return '<div class="vsr-progress" data-state="none">No task yet: upload a video.</div>'
    fraction = progress_fraction(task)
    lines = [f"<b>{html.escape(task.name)}</b> ({task.video_type}, {task.model or 'default'})"]
    lines.append(f"stage: {html.escape(STAGES.get(task.state, task.state))}")
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

    from vsr.cloud.uploads import VIDEO_EXTENSIONS, VIDEO_TYPES
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
