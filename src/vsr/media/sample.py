"""Real test media made offline: camera moves over real photos, a real audio track, subtitles,
chapters, and sync marks (a white flash frame exactly where the audio has a 1 kHz beep).

Used by `make demo` (the bundled sample) and by the tests (odd sizes, 30000/1001, VFR, 10 bit...).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

AUDIO_RATE = 48000
BEEP_HZ = 1000.0
BEEP_S = 0.05


@dataclass(frozen=True)
class ClipSpec:
    width: int = 320
    height: int = 180
    frames: int = 48
    rate: str = "24"  # exact rational, e.g. "30000/1001"
    vfr: bool = False  # alternate short and long frame durations
    pix_fmt: str = "yuv420p"
    codec: str = "libx264"
    audio: bool = True
    subtitles: bool = False
    chapters: bool = False
    video_start_s: float = 0.0  # video starts this much after the audio
    rotation: int = 0  # display rotation tag, degrees
    flash_frames: tuple[int, ...] | None = None  # default: at 1/3 and 2/3 of the clip


def _canvas() -> np.ndarray:
    """Real photos side by side at one height: a wide scene for the camera to pan over."""
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    height = 512
    tiles = []
    for photo in photos:
        img = Image.fromarray(photo[..., :3])
        width = round(img.width * height / img.height)
        tiles.append(np.asarray(img.resize((width, height), Image.Resampling.LANCZOS)))
    return np.concatenate(tiles, axis=1)


def flash_frames(spec: ClipSpec) -> tuple[int, ...]:
    if spec.flash_frames is not None:
        return spec.flash_frames
    return (spec.frames // 3, (2 * spec.frames) // 3)


def frame_times(spec: ClipSpec) -> list[Fraction]:
    """Presentation time of each frame in seconds (exact)."""
    step = 1 / Fraction(spec.rate)
    times, t = [], Fraction(spec.video_start_s).limit_denominator(1000)
    for i in range(spec.frames):
        times.append(t)
        # VFR: alternate 0.5x and 1.5x the nominal duration (like a 24/30 fps edit mix).
        t += step * (
            Fraction(1, 2) if spec.vfr and i % 2 == 0 else Fraction(3, 2) if spec.vfr else 1
        )
    return times


def render_frames(spec: ClipSpec) -> list[np.ndarray]:
    """RGB frames of a camera panning and slowly zooming across the canvas."""
    canvas = _canvas()
    ch, cw = canvas.shape[:2]
    flashes = set(flash_frames(spec))
    frames = []
    for i in range(spec.frames):
        progress = i / max(1, spec.frames - 1)
        zoom = 1.0 - 0.25 * progress
        crop_h = int(ch * 0.9 * zoom)
        crop_w = min(cw, int(crop_h * spec.width / spec.height))
        x = int((cw - crop_w) * progress)
        y = int((ch - crop_h) * (0.5 + 0.3 * np.sin(2 * np.pi * progress)) / 1.0 * 0.5)
        crop = Image.fromarray(canvas[y : y + crop_h, x : x + crop_w])
        frame = np.asarray(crop.resize((spec.width, spec.height), Image.Resampling.BICUBIC))
        if i in flashes:
            frame = np.full_like(frame, 255)
        frames.append(frame)
    return frames


def render_audio(spec: ClipSpec, duration_s: float) -> np.ndarray:
    """Stereo float32 audio: a soft chord, plus a 1 kHz beep at each flash frame's time."""
    n = int(duration_s * AUDIO_RATE)
    t = np.arange(n) / AUDIO_RATE
    music = 0.05 * (np.sin(2 * np.pi * 220 * t) + np.sin(2 * np.pi * 277.2 * t))
    times = frame_times(spec)
    for idx in flash_frames(spec):
        start = int(float(times[idx]) * AUDIO_RATE)
        stop = min(n, start + int(BEEP_S * AUDIO_RATE))
        music[start:stop] += 0.6 * np.sin(2 * np.pi * BEEP_HZ * t[start:stop])
    return np.stack([music, music]).astype(np.float32)


def make_clip(path: str | Path, spec: ClipSpec = ClipSpec()) -> Path:
    """Write a clip described by `spec` to `path` (container from the suffix)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        body = Path(tmp) / f"body{path.suffix}"
        _write_video_audio(body, spec)
        if spec.subtitles:
            _add_subtitles(body, path, spec)
        else:
            shutil.move(body, path)
    return path


def _write_video_audio(path: Path, spec: ClipSpec) -> None:
    times = frame_times(spec)
    rate = Fraction(spec.rate)
    time_base = Fraction(1, 90000)  # holds 24, 25, 30000/1001 and our VFR steps exactly
    duration_s = float(times[-1] + 1 / rate)
    with av.open(str(path), "w") as out:
        video = out.add_stream(spec.codec, rate=rate)
        video.width, video.height, video.pix_fmt = spec.width, spec.height, spec.pix_fmt
        video.time_base = time_base
        video.codec_context.time_base = time_base
        if spec.codec == "libx264":
            video.options = {"crf": "18", "preset": "fast"}
        if spec.rotation:
            video.set_display_rotation(spec.rotation)
        audio = None
        if spec.audio:
            audio_codec = "aac" if path.suffix in {".mp4", ".mov", ".m4v", ".mkv"} else "libopus"
            audio = out.add_stream(audio_codec, rate=AUDIO_RATE, layout="stereo")
        if spec.chapters:
            half = int(duration_s * 500)
            out.set_chapters(
                [
                    {
                        "id": 1,
                        "start": 0,
                        "end": half,
                        "time_base": Fraction(1, 1000),
                        "metadata": {"title": "Opening"},
                    },
                    {
                        "id": 2,
                        "start": half,
                        "end": int(duration_s * 1000),
                        "time_base": Fraction(1, 1000),
                        "metadata": {"title": "Finale"},
                    },
                ]
            )
        for rgb, t in zip(render_frames(spec), times, strict=True):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame = frame.reformat(
                format=spec.pix_fmt, dst_colorspace="ITU601", dst_color_range="MPEG"
            )
            frame.pts = round(t / time_base)
            frame.time_base = time_base
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if audio is not None:
            _encode_audio(out, audio, render_audio(spec, duration_s))


def _encode_audio(out: av.container.OutputContainer, stream, samples: np.ndarray) -> None:
    chunk = 1024
    for start in range(0, samples.shape[1], chunk):
        block = np.ascontiguousarray(samples[:, start : start + chunk])
        frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
        frame.sample_rate = AUDIO_RATE
        frame.pts = start
        frame.time_base = Fraction(1, AUDIO_RATE)
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def _srt_time(seconds: float) -> str:
    ms = int(round(seconds * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def _add_subtitles(body: Path, path: Path, spec: ClipSpec) -> None:
    """Mux an English subtitle track with FFmpeg (mov_text in MP4, SubRip elsewhere)."""
    times = frame_times(spec)
    end = float(times[-1] + 1 / Fraction(spec.rate))  # the last frame's end: cues never invert
    srt = body.with_suffix(".srt")
    srt.write_text(
        f"1\n{_srt_time(0)} --> {_srt_time(end / 2)}\nThe camera pans across real photos.\n\n"
        f"2\n{_srt_time(end / 2)} --> {_srt_time(end)}\nListen for the beep at each flash.\n"
    )
    sub_codec = "mov_text" if path.suffix in {".mp4", ".mov", ".m4v"} else "srt"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-i",
            str(body),
            "-i",
            str(srt),
            "-map",
            "0:v",
            "-map",
            "0:a?",
            "-map",
            "1",
            "-c",
            "copy",
            "-c:s",
            sub_codec,
            "-metadata:s:s:0",
            "language=eng",
            str(path),
        ],
        check=True,
    )
