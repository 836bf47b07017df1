"""How a task ends: done, with the comparison frames the page shows, or failed with one line."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from vsr.apps.ui.tasks import TaskStore, source_file


def comparison_frames(
    source: Path, result: Path, summary: dict[str, Any], folder: Path
) -> tuple[Path, Path]:
    """The middle frame before (bicubic x4 of the source) and after upscaling, as PNGs: the
    report panel's pair (`vsr.steps.panel`), the source turned by its display rotation."""
    from PIL import Image

    from vsr.steps.panel import middle_frames

    (before,), (after,), _ = middle_frames(str(source), str(result), summary, count=1)
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(before).save(folder / "before.png")
    Image.fromarray(after).save(folder / "after.png")
    return folder / "before.png", folder / "after.png"


def fail(store: TaskStore, task_id: str, error: Exception) -> None:
    store.update(task_id, state="failed", detail=" ".join(str(error).split()), finished=time.time())


def finish(
    store: TaskStore, task_id: str, output: Path, summary: dict[str, Any], **extra: Any
) -> None:
    """Make the comparison frames, then mark the task done (the page shows them at once)."""
    task = store.get(task_id)
    assert task is not None
    comparison_frames(source_file(store, task), output, summary, store.folder(task_id) / "compare")
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
