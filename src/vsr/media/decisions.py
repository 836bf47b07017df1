"""Every decision the run makes for one title, with why, read from its probe (and the picture
plan in it): what `vsr plan` shows before the run, what summary.json's provenance records after
it, and what archive.csv lists. One reader, so the plan and the run say the same thing."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from vsr.media.model_scale import planned
from vsr.media.picture import output_geometry, picture_size

MODE_WORDS = {
    "none": "none (progressive)",
    "bwdif_frame": "deinterlace (bwdif, frame rate)",
    "bwdif_field": "deinterlace (bwdif, field rate: 2 frames per frame)",
    "ivtc": "inverse telecine (fieldmatch + decimate to 24000/1001)",
    "soft_retime": "soft telecine: film frames retimed to 24000/1001",
    "fieldmatch": "mixed: fieldmatch per section",
}


def output_frames(info: dict[str, Any]) -> int:
    """Frames the output will hold: the source's, by the picture plan's frame-count contract."""
    picture = info.get("picture") or {}
    fields = picture.get("fields") or {}
    film = (picture.get("scan") or {}).get("film_map")
    if fields.get("mode") in {"fieldmatch", "ivtc"} and film:
        return int(film["frames"])  # field matching's frames less the repeats it found
    contract = Fraction(fields.get("frames_per_source_frame") or "1")
    return int(info["video"]["frames"] * contract)


def scan_text(info: dict[str, Any]) -> str:
    """`progressive`, `interlaced tff`, or the sections of a mixed title (`mixed: film 0.0-4.0 s,
    video 4.0-7.0 s`)."""
    scan = (info.get("picture") or {}).get("scan") or {}
    kind = scan.get("type") or "progressive"
    order = scan.get("field_order")
    sections = scan.get("sections") or []
    if sections:
        parts = [f"{s['kind']} {s['start_s']:.1f}-{s['end_s']:.1f} s" for s in sections]
        return f"{kind}: " + ", ".join(parts)
    return f"{kind} {order}" if order and kind != "progressive" else kind


def crop_text(info: dict[str, Any]) -> str:
    crop = (info.get("picture") or {}).get("crop")
    return f"{crop['w']}:{crop['h']}:{crop['x']}:{crop['y']}" if crop else "none"


def decisions(info: dict[str, Any], container: str) -> dict[str, dict[str, Any]]:
    """{name: {"value", "why", "evidence"}} for scan, fields, crop, model, output size and
    container, from the probe's picture plan (its settings are complete: the plan checked them)."""
    picture = info["picture"]
    settings = picture["settings"]
    chosen = planned(info)
    scale = chosen["scale"]
    scan = picture.get("scan") or {}
    fields = picture.get("fields") or {}
    bars = picture.get("bars") or {}
    video = info["video"]
    width, height = picture_size(info)
    turned = (video.get("rotation", 0) // 90) % 2 == 1
    model_w, model_h = (height, width) if turned else (width, height)
    shape = output_geometry(info, model_w * scale, model_h * scale)
    deinterlace = settings["deinterlace"]
    contract = fields.get("frames_per_source_frame", "1")
    crop_setting = settings["crop"]
    result = {
        "scan": {
            "value": scan_text(info),
            "why": "measured (deinterlace=auto)" if deinterlace != "off" else "deinterlace=off",
            "evidence": {
                k: scan.get(k) for k in ("confidence", "evidence", "sections") if k in scan
            },
        },
        "fields": {
            "value": MODE_WORDS.get(fields.get("mode", "none"), fields.get("mode")),
            "why": f"deinterlace={deinterlace} on a {scan.get('type', 'progressive')} source",
            "evidence": fields,
        },
        "crop": {
            "value": crop_text(info),
            "why": (
                "stable bars measured (crop=auto)"
                if crop_setting == "auto" and picture.get("crop")
                else "no stable bars (crop=auto)"
                if crop_setting == "auto"
                else f"crop={crop_setting}"
            ),
            "evidence": bars.get("bars") if bars else None,
        },
        "model": {
            "value": chosen["model"],
            "why": f"x{scale}: "
            + (
                f"resized {chosen['resize']['from']} -> {chosen['resize']['to']} after it"
                if chosen["resize"]["kind"] != "none"
                else "its output is the final size"
            ),
            "evidence": chosen,
        },
        "size": {
            "value": f"{shape['width']}x{shape['height']}",
            "why": (
                f"x{scale} of {width}x{height}"
                + (f", fit in {settings['size']}" if settings.get("size") else "")
                + (", square pixels" if settings.get("aspect") == "square" else "")
                + (", bars padded back" if shape["pad"] else "")
            ),
            "evidence": {"sar": str(shape["sar"]), "display_aspect": str(shape["display"])},
        },
        "frames": {
            "value": output_frames(info),
            "why": (
                f"{video['frames']} source frames less the {film['dropped']} pulldown repeats "
                "field matching leaves"
                if (film := scan.get("film_map")) and fields.get("mode") in {"fieldmatch", "ivtc"}
                else f"{video['frames']} source frames x {contract}"
            ),
            "evidence": {"frame_rate": fields.get("frame_rate") or video.get("frame_rate")},
        },
        "container": {
            "value": container,
            "why": (
                "asked for"
                if container != info.get("container_out")
                else "holds every stream by copy"
                if container == "mp4"
                else "the source has streams MP4 cannot hold by copy"
            ),
            "evidence": [f"{s['type']} {s['codec']}" for s in info.get("streams", [])],
        },
    }
    return result
