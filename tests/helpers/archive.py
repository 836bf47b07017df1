"""Archive-style variants of the real-photo clips, made with Debian's FFmpeg CLI: interlaced TFF and
BFF video, hard and soft telecine, anamorphic and letterboxed SD, in MPEG-2 PS, DV AVI, MXF and MOV
with AC-3 or PCM audio."""

from __future__ import annotations

import subprocess
from pathlib import Path

from vsr.media.sample import ClipSpec, make_clip


def ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", *args], check=True, capture_output=True, timeout=300
    )


def base_clip(folder: Path, name: str, **spec) -> Path:
    """A real-photo pan with audio (flash + beep sync marks)."""
    return make_clip(folder / f"{name}.mp4", ClipSpec(**spec))


def interlace(source: Path, out: Path, order: str, *codec: str) -> Path:
    """Weave consecutive frames of a 2x-rate source into fields (motion between the two fields)."""
    mode, field = ("interleave_top", "tff") if order == "tff" else ("interleave_bottom", "bff")
    ffmpeg("-i", str(source), "-vf", f"tinterlace={mode},setfield={field}", *codec, str(out))
    return out


def hard_telecine(source: Path, out: Path, *codec: str) -> Path:
    """3:2 pulldown burnt into the pictures (24000/1001 film -> 30000/1001 frames)."""
    ffmpeg("-i", str(source), "-vf", "telecine=pattern=23", *codec, str(out))
    return out


MPEG2_TFF = ("-c:v", "mpeg2video", "-flags", "+ildct+ilme", "-top", "1", "-q:v", "2")
MPEG2_BFF = ("-c:v", "mpeg2video", "-flags", "+ildct+ilme", "-top", "0", "-q:v", "2")


def soft_telecine(source: Path, out: Path) -> Path:
    """A DVD-style soft-telecined MPEG-2 program stream: 24000/1001 progressive pictures coded
    with repeat-first-field flags in the 3:2 pattern and a 30000/1001 sequence header, as DVD
    authoring tools write them (FFmpeg's encoder cannot, so the flags are set in the bitstream)."""
    es = out.with_suffix(".m2v")
    ffmpeg(
        "-i", str(source), "-an", "-c:v", "mpeg2video", "-flags", "+ildct", "-bf", "0",
        "-g", "12", "-q:v", "2", "-f", "mpeg2video", str(es),
    )  # fmt: skip
    data = bytearray(es.read_bytes())
    picture = 0
    i = data.find(b"\x00\x00\x01")
    while i >= 0 and i + 8 < len(data):
        code = data[i + 3]
        if code == 0xB3:  # sequence header: frame_rate_code 4 = 30000/1001
            data[i + 7] = (data[i + 7] & 0xF0) | 0x04
        elif code == 0xB5 and data[i + 4] >> 4 == 1:  # sequence extension: progressive_sequence=0
            data[i + 5] &= ~0x08 & 0xFF
        elif code == 0xB5 and data[i + 4] >> 4 == 8:  # picture coding extension
            tff, rff = [(1, 1), (0, 0), (0, 1), (1, 0)][picture % 4]
            b = data[i + 7] & ~0x82 & 0xFF
            data[i + 7] = b | (tff << 7) | (rff << 1)
            data[i + 8] |= 0x80  # progressive_frame
            picture += 1
        i = data.find(b"\x00\x00\x01", i + 3)
    es.write_bytes(bytes(data))
    ffmpeg(
        "-fflags", "+genpts", "-r", "30000/1001", "-i", str(es), "-i", str(source),
        "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "ac3", "-f", "vob", str(out),
    )  # fmt: skip
    es.unlink()
    return out
