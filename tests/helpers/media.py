"""Independent measurements of media files for the tests: ffprobe (Debian's FFmpeg) and PyAV."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from vsr.media.sample import BEEP_HZ


def ffprobe(path: str | Path) -> dict:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_streams",
            "-show_format",
            "-show_chapters",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return json.loads(out)


def streams_of(info: dict, kind: str) -> list[dict]:
    return [
        s
        for s in info["streams"]
        if s["codec_type"] == kind and not s.get("disposition", {}).get("attached_pic")
    ]


def count_frames(path: str | Path) -> int:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    return int(out.strip().split(",")[0])


def video_frames(path: str | Path) -> tuple[list[float], list[np.ndarray]]:
    """Presentation times (s) and RGB frames of the first video stream, as a player shows them."""
    times, frames = [], []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            times.append(float(frame.pts * frame.time_base))
            frames.append(frame.to_ndarray(format="rgb24"))
    return times, frames


def flash_times(path: str | Path) -> list[float]:
    times, frames = video_frames(path)
    return [t for t, f in zip(times, frames, strict=True) if f.mean() > 235]


def beep_times(path: str | Path) -> list[float]:
    """Onsets of the 1 kHz beeps: where 1 kHz energy in 5 ms windows first jumps."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks, start = [], None
        for frame in container.decode(stream):
            if start is None:
                start = float(frame.pts * frame.time_base)
            chunks.append(
                frame.to_ndarray().reshape(frame.layout.nb_channels, -1)[0]
                if frame.format.is_planar
                else frame.to_ndarray()[0, ::2]
            )
        rate = stream.rate
    signal = np.concatenate(chunks).astype(np.float64)
    window = int(rate * 0.005)
    t = np.arange(window) / rate
    probe = np.exp(-2j * np.pi * BEEP_HZ * t)
    energy = np.array(
        [
            abs(np.dot(signal[i : i + window], probe))
            for i in range(0, len(signal) - window, window // 4)
        ]
    )
    loud = energy > energy.max() * 0.5
    onsets, previous = [], False
    for i, on in enumerate(loud):
        if on and not previous:
            onsets.append(start + i * (window // 4) / rate)
        previous = on
    return onsets


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def downscale(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.BICUBIC))


def rate_of(stream: dict) -> Fraction:
    return Fraction(stream["r_frame_rate"])
