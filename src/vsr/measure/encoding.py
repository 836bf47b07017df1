"""The encoder settings the benchmarks give the pipeline and their FFmpeg baselines alike."""

from __future__ import annotations

from typing import Any

from vsr.steps.encode import encoder_options

# The pipeline's default encode settings, as the encode step reads them (config `encode:`).
ENCODE: dict[str, Any] = {"codec": "libx264", "crf": 18, "preset": "medium", "options": {}}


def ffmpeg_encode_args(threads: int) -> list[str]:
    """The same settings for the FFmpeg command line, with the encoder's thread count (x264's
    output depends on it, so a like-for-like baseline must match it too)."""
    options = encoder_options(ENCODE["codec"], ENCODE["crf"], ENCODE["preset"], ENCODE["options"])
    flags = [part for key, value in options.items() for part in (f"-{key}", value)]
    return ["-c:v", ENCODE["codec"], *flags, "-pix_fmt", "yuv420p", "-threads", str(threads)]
