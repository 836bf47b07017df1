"""Pictures for people: frames side by side, each enlarged and labelled (quality crops, the
report panel)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ZOOM = 2  # nearest-neighbour enlargement of crops, so single pixels can be seen


def labelled(image: np.ndarray, label: str, zoom: int = ZOOM) -> Image.Image:
    """A crop enlarged (nearest) with its label above it."""
    tile = Image.fromarray(image).resize(
        (image.shape[1] * zoom, image.shape[0] * zoom), Image.Resampling.NEAREST
    )
    canvas = Image.new("RGB", (tile.width, tile.height + 28), "white")
    canvas.paste(tile, (0, 28))
    draw = ImageDraw.Draw(canvas)
    for line, text in enumerate(label.split("\n")[:2]):
        draw.text((3, 2 + 13 * line), text[: tile.width // 6], fill="black")
    return canvas


def side_by_side(panels: list[tuple[np.ndarray, str]], out: Path, zoom: int = ZOOM) -> None:
    tiles = [labelled(image, label, zoom) for image, label in panels]
    strip = Image.new("RGB", (sum(t.width + 4 for t in tiles) - 4, tiles[0].height), "white")
    left = 0
    for tile in tiles:
        strip.paste(tile, (left, 0))
        left += tile.width + 4
    strip.save(out)
