"""What the pipeline does to the picture, decided once in the probe step and written to probe.json:

- `scan`: the measured scan type and its evidence (`vsr.media.scan`);
- `bars`: stable letterbox/pillarbox bars (`vsr.media.bars`);
- `fields`: how fields become progressive frames before the model (none, bwdif at frame or field
  rate, inverse telecine to 24000/1001, soft-telecine retiming), and the frame-count contract;
- `crop`: the box given to the model;
- `output`: the shape after the model (`aspect: keep|square`, `size`, bars padded back or not).

Settings come from the config (`deinterlace`, `crop`, `crop_pad`, `output.aspect`, `output.size`)
and, per video, from the manifest columns of the same names (`aspect`, `size` for the output ones).
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path
from typing import Any

from vsr.defaults import defaults
from vsr.errors import VsrError

DEINTERLACE = ("auto", "off", "frame", "field", "ivtc")
ASPECT = ("keep", "square")
FILM_RATE = Fraction(24000, 1001)
CROP_PATTERN = re.compile(r"^(\d+):(\d+):(\d+):(\d+)$")
SIZE_PATTERN = re.compile(r"^(\d+)x(\d+)$")
# Manifest columns that override the config for one video.
ROW_KEYS = ("deinterlace", "crop", "crop_pad", "aspect", "size")


def picture_defaults() -> dict[str, Any]:
    """The config's defaults of the picture settings, flat (`aspect` and `size` from `output`)."""
    config = defaults()
    flat = {key: config[key] for key in ("deinterlace", "crop", "crop_pad")}
    return {**flat, "aspect": config["output"]["aspect"], "size": config["output"]["size"]}


def settings_from(config: dict[str, Any], row: dict[str, Any] | None = None) -> dict[str, Any]:
    """The picture settings of one video: defaults < config < manifest row."""
    output = config.get("output") or {}
    merged = picture_defaults()
    for key in ("deinterlace", "crop", "crop_pad"):
        if config.get(key) is not None:
            merged[key] = config[key]
    for key in ("aspect", "size"):
        if output.get(key) is not None:
            merged[key] = output[key]
    for key in ROW_KEYS:
        value = (row or {}).get(key)
        if value is not None and str(value).strip() != "":
            merged[key] = str(value).strip()
    return check_settings(merged, "settings")


def check_settings(s: dict[str, Any], where: str) -> dict[str, Any]:
    s = dict(s)
    s["deinterlace"] = str(s["deinterlace"]).lower()
    if s["deinterlace"] in {"false", "no"}:  # YAML reads `off` as false
        s["deinterlace"] = "off"
    if s["deinterlace"] not in DEINTERLACE:
        raise VsrError(where, f"deinterlace {s['deinterlace']!r}: use {'|'.join(DEINTERLACE)}")
    crop = str(s["crop"]).lower()
    crop = "off" if crop in {"false", "no"} else crop
    if crop not in {"auto", "off"} and not CROP_PATTERN.match(crop):
        raise VsrError(where, f"crop {crop!r}: use auto, off or W:H:X:Y")
    s["crop"] = crop
    s["crop_pad"] = str(s["crop_pad"]).lower() in {"true", "1", "yes", "pad"}
    s["aspect"] = str(s["aspect"]).lower()
    if s["aspect"] not in ASPECT:
        raise VsrError(where, f"aspect {s['aspect']!r}: use keep or square")
    size = s.get("size")
    if size in {None, "", "none", "null"}:
        s["size"] = None
    else:
        match = SIZE_PATTERN.match(str(size).lower())
        if not match or int(match[1]) < 16 or int(match[2]) < 16:
            raise VsrError(where, f"output size {size!r}: use WIDTHxHEIGHT, e.g. 1920x1080")
        s["size"] = f"{int(match[1])}x{int(match[2])}"
    return s


def field_mode(scan_type: str, deinterlace: str) -> str:
    """none | bwdif_frame | bwdif_field | ivtc | soft_retime | fieldmatch."""
    if deinterlace == "off":
        return "none"
    if deinterlace == "frame":
        return "bwdif_frame" if scan_type != "progressive" else "none"
    if deinterlace == "field":
        return "bwdif_field" if scan_type != "progressive" else "none"
    if deinterlace == "ivtc" or scan_type == "hard_telecine":
        return "ivtc" if scan_type != "soft_telecine" else "soft_retime"
    return {
        "interlaced": "bwdif_frame",
        "soft_telecine": "soft_retime",
        "mixed": "fieldmatch",
    }.get(scan_type, "none")


# Output frames per source frame (decoded pictures), by mode: "the pictures the viewer saw".
CONTRACT = {
    "none": Fraction(1),
    "bwdif_frame": Fraction(1),
    "fieldmatch": Fraction(1),
    "bwdif_field": Fraction(2),
    "ivtc": Fraction(4, 5),
    "soft_retime": Fraction(1),
}


def plan(
    path: str | Path, info: dict[str, Any], settings: dict[str, Any], measure: bool = True
) -> dict[str, Any]:
    """Scan, bars and the decisions for one source (`info` is its probe)."""
    from vsr.media import bars as bars_mod
    from vsr.media import scan as scan_mod

    video = info["video"]
    settings = check_settings({**picture_defaults(), **settings}, str(path))
    scan = (
        scan_mod.scan(path, video)
        if measure and settings["deinterlace"] != "off"
        else {"type": "progressive", "field_order": None, "confidence": None, "evidence": None}
    )
    review = list(scan.pop("review", None) or [])
    mode = field_mode(scan["type"], settings["deinterlace"])
    order = scan.get("field_order") or "tff"
    rate = Fraction(video["frame_rate"]) if video.get("frame_rate") else None
    if mode in {"ivtc", "soft_retime"}:
        rate = FILM_RATE
    elif mode == "bwdif_field" and rate:
        rate *= 2
    bars = None
    crop = None
    if settings["crop"] == "auto":
        bars = bars_mod.detect(path, video)
        crop = bars["crop"]
    elif settings["crop"] != "off":
        w, h, x, y = (int(v) for v in CROP_PATTERN.match(settings["crop"]).groups())
        if w < 8 or h < 8 or x + w > video["width"] or y + h > video["height"]:
            raise VsrError(path, f"crop {settings['crop']} does not fit {video['width']}x"
                           f"{video['height']}")  # fmt: skip
        crop = {"w": w, "h": h, "x": x, "y": y}
    width = crop["w"] if crop else video["width"]
    height = crop["h"] if crop else video["height"]
    return {
        "settings": settings,
        "scan": scan,
        "bars": bars,
        "fields": {
            "mode": mode,
            "order": order,
            "frame_rate": f"{rate.numerator}/{rate.denominator}" if rate else None,
            "frames_per_source_frame": str(CONTRACT[mode]),
        },
        "crop": crop,
        "width": width,
        "height": height,
        "review": review,
    }


def contract_from_rates(source_rate: Fraction | None, output_rate: Fraction | None) -> Fraction:
    """Output frames per source frame inferred from the two frame rates (for a pair with no
    plan): field rate doubles them, inverse telecine keeps 4 of 5, anything else keeps them."""
    if not source_rate or not output_rate:
        return Fraction(1)
    ratio = output_rate / source_rate
    for known in sorted(set(CONTRACT.values())):
        if abs(ratio - known) < Fraction(1, 100):
            return known
    return Fraction(1)


def is_turned(video: dict[str, Any]) -> bool:
    """Whether the display rotation is a quarter turn (width and height swap on screen)."""
    return (video.get("rotation", 0) // 90) % 2 == 1


def pixel_aspect(video: dict[str, Any]) -> Fraction:
    """The SAR as displayed (a quarter turn inverts it); unset or 0 means square."""
    sar = Fraction(video.get("sample_aspect_ratio") or "1/1")
    sar = sar if sar > 0 else Fraction(1)
    return 1 / sar if is_turned(video) else sar


def display_aspect(video: dict[str, Any], width: int, height: int) -> Fraction:
    """The display aspect ratio of a `width` x `height` picture of `video` (rotation applied)."""
    if is_turned(video):
        width, height = height, width
    return Fraction(width) * pixel_aspect(video) / height


def picture_size(info: dict[str, Any]) -> tuple[int, int]:
    """(width, height) of the pictures given to the model (after any crop, before rotation)."""
    picture = info.get("picture") or {}
    video = info["video"]
    return picture.get("width", video["width"]), picture.get("height", video["height"])


def _even(value: Fraction | float) -> int:
    return max(2, 2 * round(float(value) / 2))


def output_geometry(info: dict[str, Any], width: int, height: int) -> dict[str, Any]:
    """The final shape, given the model's output frame size (rotation already applied):
    `pad` (W, H, X, Y: bars put back, at the model's scale), the `size` to resample to and the
    `sar` to tag. Returns {"pad": ..., "width", "height", "sar"}."""
    video, picture = info["video"], info.get("picture") or {}
    settings = {**picture_defaults(), **(picture.get("settings") or {})}
    turned = is_turned(video)
    sar = pixel_aspect(video)
    pw, ph = picture_size(info)
    scale = Fraction(width, ph if turned else pw)
    pad = None
    crop = picture.get("crop")
    if crop and settings["crop_pad"] and not turned:
        pad = {
            "w": int(video["width"] * scale),
            "h": int(video["height"] * scale),
            "x": int(crop["x"] * scale),
            "y": int(crop["y"] * scale),
        }
        width, height = pad["w"], pad["h"]
    display = Fraction(width) * sar / height
    out_w, out_h, out_sar = width, height, sar
    if settings["size"]:
        box_w, box_h = (int(v) for v in settings["size"].split("x"))
        if Fraction(box_w, box_h) >= display:
            dh, dw = box_h, _even(box_h * display)
        else:
            dw, dh = box_w, _even(box_w / display)
        if settings["aspect"] == "square":
            out_w, out_h, out_sar = dw, dh, Fraction(1)
        else:
            out_w, out_h = _even(dw / sar), dh
    elif settings["aspect"] == "square" and sar != 1:
        # Height kept, width resampled (as `scale=iw*sar:ih`): lines are never interpolated.
        out_w, out_h, out_sar = _even(width * sar), height, Fraction(1)
    return {"pad": pad, "width": out_w, "height": out_h, "sar": out_sar, "display": display}
