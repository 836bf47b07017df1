"""Which of a model family's scales a title gets, and the resize the picture gets after it.

Decided once, in the probe step's picture plan, and stored in probe.json under
`picture.model_scale` (`planned`): split, upscale, encode, the summary, provenance and `vsr plan`
read it from there.

`upscale.scale: auto` takes the smallest scale whose model output already covers the final
picture (`output.size` fitted inside with the display aspect kept, after any crop and with bars
padded back), so nothing is made at a size only to be thrown away; with no `output.size` it
takes x4 (the family's largest scale where it has no x4). A number asks for that scale.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from vsr.errors import VsrError
from vsr.media.picture import output_geometry, picture_size

SCALE_CHOICES = ("auto", "2", "3", "4")
DEFAULT_SCALE = 4
# The final size is rounded to even numbers: a model output this much short still "reaches" it.
EVEN_ROUNDING_PX = 2


def check_scale(requested: Any, where: str = "upscale.scale") -> str:
    """`auto`, `2`, `3` or `4` (YAML may give an integer)."""
    text = str(requested if requested is not None else "auto").strip().lower()
    if text not in SCALE_CHOICES:
        raise VsrError(where, f"scale {requested!r}: use {'|'.join(SCALE_CHOICES)}")
    return text


def model_frame(info: dict[str, Any], scale: int) -> tuple[int, int]:
    """(width, height) of the model's output at `scale`, display rotation applied."""
    width, height = picture_size(info)
    if (info["video"].get("rotation", 0) // 90) % 2:
        width, height = height, width
    return width * scale, height * scale


def resize_after(info: dict[str, Any], scale: int) -> dict[str, Any]:
    """The model's output size and the resize after it: kind (`lanczos` or `none`), factor
    (output height over model height, after any bars are padded back), sizes before and after."""
    from vsr.media.fields import RESIZE_KIND  # PyAV: only where a resize is described

    width, height = model_frame(info, scale)
    geometry = output_geometry(info, width, height)
    pad = geometry["pad"]
    before = (pad["w"], pad["h"]) if pad else (width, height)
    after = (geometry["width"], geometry["height"])
    factor = Fraction(after[1], before[1])
    return {
        "scale": scale,
        "model_size": f"{width}x{height}",
        "resize": {
            "kind": "none" if before == after else RESIZE_KIND,
            "factor": round(float(factor), 4),
            "from": f"{before[0]}x{before[1]}",
            "to": f"{after[0]}x{after[1]}",
        },
    }


def reaches(info: dict[str, Any], scale: int) -> bool:
    """True when the model's output at `scale` is at least the final size both ways."""
    width, height = model_frame(info, scale)
    geometry = output_geometry(info, width, height)
    pad = geometry["pad"]
    before = (pad["w"], pad["h"]) if pad else (width, height)
    return all(
        final <= made + EVEN_ROUNDING_PX
        for final, made in zip((geometry["width"], geometry["height"]), before, strict=True)
    )


def choose_scale(scales: tuple[int, ...], requested: Any, info: dict[str, Any], where: str) -> int:
    """The scale a title gets from a family with `scales` (`where` names the model in errors)."""
    choice = check_scale(requested)
    if choice != "auto":
        if int(choice) not in scales:
            have = ", ".join(f"x{s}" for s in scales)
            raise VsrError(where, f"has no x{choice} model (it has {have}); set upscale.scale")
        return int(choice)
    settings = (info.get("picture") or {}).get("settings") or {}
    if not settings.get("size"):
        return DEFAULT_SCALE if DEFAULT_SCALE in scales else max(scales)
    return next((s for s in sorted(scales) if reaches(info, s)), max(scales))


def planned(info: dict[str, Any]) -> dict[str, Any]:
    """The picture plan's model record: `model` (the name of the model that runs, at its scale),
    `scale`, `model_size` and the `resize` after it (see `resize_after`)."""
    record = (info.get("picture") or {}).get("model_scale")
    if not record:
        raise VsrError("probe.json", "its picture plan has no model scale (probe with a model)")
    return record
