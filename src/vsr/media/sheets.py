"""Pictures an operator looks at before and after a run: a title's contact sheet (a few frames
from across it, the crop box drawn, a field pair for interlaced sources) and before/after crops
of a finished title. Cheap: each decodes a handful of frames, seeking between them."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image, ImageDraw

SHEET_FRAMES = 4
TILE_WIDTH = 240  # frames are shown at least this wide (nearest, so pixels stay visible)


def frames_across(path: str | os.PathLike[str], count: int) -> list[tuple[float, np.ndarray]]:
    """Up to `count` (time, RGB frame) pairs spread through the video. A damaged file gives
    what decodes."""
    frames: list[tuple[float, np.ndarray]] = []
    with av.open(os.fspath(path), metadata_errors="replace") as container:
        stream = container.streams.video[0]
        duration = (
            float(stream.duration * stream.time_base)
            if stream.duration
            else (container.duration or 0) / av.time_base
        )
        start = float((stream.start_time or 0) * stream.time_base)
        for k in range(count):
            at = start + duration * (k + 0.5) / count
            with contextlib.suppress(av.error.FFmpegError, StopIteration):
                if duration > 0:
                    container.seek(int(at / stream.time_base), stream=stream, backward=True)
                for frame in container.decode(stream):
                    if frame.time is not None and frame.time < at - 1e-3 and duration > 0:
                        continue
                    frames.append((frame.time or 0.0, frame.to_ndarray(format="rgb24")))
                    break
    return frames


def _tile(image: np.ndarray, label: str, crop: dict[str, int] | None = None) -> Image.Image:
    zoom = max(1, -(-TILE_WIDTH // image.shape[1]))
    tile = Image.fromarray(image).resize(
        (image.shape[1] * zoom, image.shape[0] * zoom), Image.Resampling.NEAREST
    )
    canvas = Image.new("RGB", (tile.width, tile.height + 16), "white")
    canvas.paste(tile, (0, 16))
    draw = ImageDraw.Draw(canvas)
    draw.text((3, 2), label[: tile.width // 6], fill="black")
    if crop:
        box = (crop["x"] * zoom, 16 + crop["y"] * zoom)
        end = (box[0] + crop["w"] * zoom - 1, box[1] + crop["h"] * zoom - 1)
        draw.rectangle((box, end), outline=(255, 0, 0), width=2)
    return canvas


def _fields(image: np.ndarray) -> list[tuple[np.ndarray, str]]:
    """The two fields of one frame, each line-doubled back to frame height."""
    return [
        (np.repeat(image[0::2], 2, axis=0), "top field"),
        (np.repeat(image[1::2], 2, axis=0), "bottom field"),
    ]


def _grid(tiles: list[Image.Image], columns: int) -> Image.Image:
    width = max(t.width for t in tiles)
    height = max(t.height for t in tiles)
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (columns * (width + 4) - 4, rows * (height + 4) - 4), "white")
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % columns) * (width + 4), (i // columns) * (height + 4)))
    return sheet


def contact_sheet(
    source: str | os.PathLike[str], info: dict[str, Any] | None, out: Path
) -> Path | None:
    """`out` (PNG): frames from across the title with the crop box drawn, and for an
    interlaced or telecined source one frame's two fields. None when no frame decodes."""
    frames = frames_across(source, SHEET_FRAMES)
    if not frames:
        return None
    picture = (info or {}).get("picture") or {}
    crop = picture.get("crop")
    tiles = [_tile(image, f"{at:.2f} s", crop) for at, image in frames]
    scan = (picture.get("scan") or {}).get("type", "progressive")
    if scan != "progressive":
        middle = frames[len(frames) // 2]
        tiles += [_tile(field, f"{label} ({scan})") for field, label in _fields(middle[1])]
    out.parent.mkdir(parents=True, exist_ok=True)
    _grid(tiles, min(len(tiles), 3)).save(out)
    return out


def before_after(
    source: str, output: str, out: Path, rotation: int = 0, crop: str = ""
) -> Path | None:
    """`out` (PNG): the middle of the middle frame, source (enlarged, nearest) beside output
    (`crop`: the W:H:X:Y box the model was given, so the two show the same place)."""
    low = frames_across(source, 1)
    high = frames_across(output, 1)
    if not low or not high:
        return None
    src = low[0][1]
    if crop.count(":") == 3:
        w, h, x, y = (int(v) for v in crop.split(":"))
        src = src[y : y + h, x : x + w]
    src = np.ascontiguousarray(np.rot90(src, (rotation // 90) % 4))
    dst = high[0][1]
    scale_y, scale_x = dst.shape[0] / src.shape[0], dst.shape[1] / src.shape[1]
    h, w = max(8, src.shape[0] // 3), max(8, src.shape[1] // 3)
    y, x = (src.shape[0] - h) // 2, (src.shape[1] - w) // 2
    before = src[y : y + h, x : x + w]
    after = dst[
        int(y * scale_y) : int((y + h) * scale_y), int(x * scale_x) : int((x + w) * scale_x)
    ]
    zoom_after = max(1, -(-TILE_WIDTH // max(1, after.shape[1])))
    before_img = Image.fromarray(before).resize(
        (after.shape[1] * zoom_after, after.shape[0] * zoom_after), Image.Resampling.NEAREST
    )
    tiles = [
        _tile(np.asarray(before_img), "before (source, nearest)"),
        _tile(after, "after"),
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    _grid(tiles, 2).save(out)
    return out
