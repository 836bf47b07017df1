"""What can be known before any work, checked in seconds: the same checks for `vsr upscale`,
`vsr batch` and `vsr plan`.

Per title: the source decodes and delivers what its container declares (`media.probe`), the
picture settings are valid for it, the container asked for holds its streams by copy (or the
audio is to be re-encoded), the model exists, and the folder has room for the run's
intermediates. Each failure is one line naming the path the user gave.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from vsr.errors import VsrError
from vsr.media.picture import settings_from
from vsr.media.probe import check_container_fit, probe

# Bytes per source pixel of the intermediates, from docs/scaling.md's figures for 854x480 (a
# 0.16 MB FFV1 shard frame, a ~1.5 MB lossless x264 4x frame, 5.5 GB of final per hour), with
# ~25% margin: shards at source size, 4x shards while kept, the segments and the final.
SHARD_BYTES_PER_PX = 0.5
UPSCALED_BYTES_PER_PX = 4.5
ENCODED_BYTES_PER_PX = 0.2


def container_for(settings: dict[str, Any], info: dict[str, Any]) -> str:
    """The output container the run will write: the one asked for, else the probe's choice."""
    asked = settings.get("container") or "auto"
    return info["container_out"] if asked == "auto" else asked


def intermediate_bytes(info: dict[str, Any], settings: dict[str, Any]) -> int:
    """An upper estimate of the disk a run of this title needs at its peak."""
    video = info["video"]
    pixels = video["width"] * video["height"] * max(1, int(video.get("frames") or 0))
    per_px = SHARD_BYTES_PER_PX + 2 * ENCODED_BYTES_PER_PX
    if settings["intermediate"] == "lossless":
        # Without keep_upscaled, one 4x shard at a time per running job: count one in twenty.
        kept = 1.0 if settings["keep_upscaled"] else 0.05
        per_px += UPSCALED_BYTES_PER_PX * kept
    return int(pixels * per_px)


def free_bytes(folder: str | os.PathLike[str]) -> int:
    """Free space where `folder` is (or would be created)."""
    path = Path(os.path.abspath(folder))
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free


def check_disk(
    where: str, folder: str | os.PathLike[str], need: int, free: int | None = None
) -> None:
    free = free_bytes(folder) if free is None else free
    if need > free:
        raise VsrError(
            where,
            f"No space left on device (ENOSPC) for the run's intermediates, found before the"
            f" run: about {_size(need)} needed, {_size(free)} free in {os.path.abspath(folder)}",
        )


def _size(count: int) -> str:
    return f"{count / 1e9:.1f} GB" if count >= 1e9 else f"{count / 1e6:.1f} MB"


def check_title(
    source_given: str,
    source: str | os.PathLike[str],
    settings: dict[str, Any],
    *,
    output_given: str | None = None,
    work_folder: str | os.PathLike[str] | None = None,
    row: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Probe one source and check everything knowable about its run (`row`: its manifest
    columns); returns the probe. Errors name `source_given` (or `output_given` for what is the
    output's problem)."""
    try:
        info = probe(source)
    except VsrError as exc:
        raise VsrError(source_given, exc.problem) if exc.path == str(source) else exc from None
    picture = settings_from(settings, row)
    if picture["crop"] not in {"auto", "off"}:
        w, h, x, y = (int(v) for v in picture["crop"].split(":"))
        video = info["video"]
        if w < 8 or h < 8 or x + w > video["width"] or y + h > video["height"]:
            raise VsrError(
                source_given,
                f"crop {picture['crop']} does not fit {video['width']}x{video['height']}",
            )
    container = container_for(settings, info)
    try:
        check_container_fit(source_given, info, container, settings["audio"])
    except VsrError as exc:
        raise VsrError(output_given or source_given, exc.problem) from None
    if work_folder is not None:
        check_disk(output_given or source_given, work_folder, intermediate_bytes(info, settings))
    return info
