"""Colour handling: which matrix/range a source uses, and the pixel formats the steps work in.

The source's YUV->RGB conversion and the output's RGB->YUV conversion must use the same matrix and
range, and the output must be tagged with them; otherwise colours shift (an untagged SD source read
as BT.601 would be shown as BT.709 once it is HD).
"""

from __future__ import annotations

from typing import Any

import av

# FFmpeg AVColorSpace -> swscale colour matrix (av.video.reformatter.Colorspace values).
_SWS_MATRIX = {
    1: "ITU709",
    4: "FCC",
    5: "ITU601",
    6: "ITU601",
    7: "SMPTE240M",
    9: "BT2020",
    10: "BT2020",
}
UNSPECIFIED = 2


def assumed_colorspace(video: dict[str, Any]) -> int:
    """The AVColorSpace to read the source with: its tag, or the usual guess from its height."""
    tagged = video.get("colorspace", UNSPECIFIED)
    if tagged in _SWS_MATRIX:
        return tagged
    return 1 if video["height"] >= 720 else 6


def sws_matrix(video: dict[str, Any]) -> str:
    return _SWS_MATRIX[assumed_colorspace(video)]


def colour_range(video: dict[str, Any]) -> str:
    """'JPEG' (full) or 'MPEG' (limited); untagged yuvj* formats are full range."""
    if video.get("color_range") == 2 or video["pix_fmt"].startswith("yuvj"):
        return "JPEG"
    return "MPEG"


def output_tags(video: dict[str, Any]) -> dict[str, int]:
    """Colour tags for the output: the source's, with the assumed matrix made explicit."""
    space = assumed_colorspace(video)
    primaries, trc = video.get("color_primaries", UNSPECIFIED), video.get("color_trc", UNSPECIFIED)
    if primaries == UNSPECIFIED:
        primaries = 1 if space == 1 else 6  # bt709 / smpte170m
    if trc == UNSPECIFIED:
        trc = 1 if space == 1 else 6
    return {
        "colorspace": space,
        "color_primaries": primaries,
        "color_trc": trc,
        "color_range": 2 if colour_range(video) == "JPEG" else 1,
    }


def is_rgb(pix_fmt: str) -> bool:
    return bool(av.VideoFormat(pix_fmt).is_rgb)


def high_bit_depth(video: dict[str, Any]) -> bool:
    return int(video.get("bit_depth", 8)) > 8


def rgb_format(video: dict[str, Any]) -> str:
    """The RGB layout frames are handed to the model in: 16 bit for >8-bit sources."""
    return "rgb48le" if high_bit_depth(video) else "rgb24"


def shard_format(pix_fmt: str) -> str:
    """A pixel format FFV1 stores losslessly that holds the source's samples unchanged."""
    supported = {f.name for f in av.Codec("ffv1", "w").video_formats}
    if pix_fmt in supported:
        return pix_fmt
    if pix_fmt.startswith("yuvj"):
        return pix_fmt.replace("yuvj", "yuv")  # same samples; the range is tracked in the probe
    if pix_fmt in {"nv12", "nv21"}:
        return "yuv420p"
    if pix_fmt in {"p010le", "p010be"}:
        return "yuv420p10le"
    desc = av.VideoFormat(pix_fmt)
    depth = max(c.bits for c in desc.components) if desc.components else 8
    if desc.has_palette:
        return "bgr0"  # the palette's colours, not its indices
    if desc.is_rgb:
        # FFV1 keeps 8-bit RGB (QuickTime Animation, raw RGB AVI, RGB565...) only as bgr0/bgra.
        return "gbrp16le" if depth > 8 else "bgr0"
    if depth <= 8:
        return "gray" if len(desc.components) == 1 else "yuv444p"
    return "yuv444p16le"


def output_format(video: dict[str, Any]) -> str:
    """The YUV format of the final video: the source's chroma layout (4:2:0, 4:2:2, 4:4:4), 8 or
    10 bit, the layouts every H.264/HEVC encoder takes."""
    name = video["pix_fmt"]
    if "422" in name:
        chroma = "422"
    elif "444" in name or is_rgb(name):
        chroma = "444"
    else:
        chroma = "420"
    return f"yuv{chroma}p10le" if high_bit_depth(video) else f"yuv{chroma}p"
