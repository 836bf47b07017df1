"""A ground-truth scan corpus made from real photos (scikit-image's, public domain / CC0): the
progressive truth is rendered first (a camera panning and zooming over the photos, sampled at the
instants each frame or field shows), then woven into fields, telecined, or left progressive, and
encoded with Debian's FFmpeg. Each case knows its true scan type."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

NTSC = Fraction(30000, 1001)
PAL = Fraction(25)
FILM = Fraction(24000, 1001)


@cache
def canvas() -> np.ndarray:
    """Real photos side by side, 512 lines high: a wide grey scene for the camera."""
    from skimage import data

    tiles = []
    for photo in (data.astronaut(), data.coffee(), data.chelsea(), data.rocket()):
        img = Image.fromarray(photo[..., :3]).convert("L")
        tiles.append(np.asarray(img.resize((round(img.width * 512 / img.height), 512))))
    return np.concatenate(tiles, axis=1)


@dataclass(frozen=True)
class Camera:
    """Where the camera looks at time t (seconds): a window of the canvas moving at `speed`
    canvas pixels per second along `direction` (x, y), zooming by `zoom` per second."""

    speed: float = 120.0
    direction: tuple[float, float] = (1.0, 0.25)
    zoom: float = 0.0
    view: float = 0.55  # window height as a share of the canvas height
    x0: float = 40.0

    def picture(self, t: float, width: int, height: int, resample=Image.Resampling.BICUBIC):
        src = canvas()
        ch = src.shape[0]
        vh = ch * self.view * (1 - self.zoom * t)
        vw = vh * width / height
        x = self.x0 + self.speed * self.direction[0] * t
        y = (ch - vh) / 2 + self.speed * self.direction[1] * t
        y = min(max(y, 0), ch - vh)
        box = (x, y, x + vw, y + vh)
        img = Image.fromarray(src).resize((width, height), resample, box=box)
        return np.asarray(img)


STILL = Camera(speed=0.0)


def progressive(cam: Camera, w: int, h: int, rate: Fraction, n: int, **kw) -> list[np.ndarray]:
    return [cam.picture(float(i / rate), w, h, **kw) for i in range(n)]


def woven(cam: Camera, w: int, h: int, rate: Fraction, n: int, order: str) -> list[np.ndarray]:
    """Interlaced frames: each field is a picture of its own instant (two per frame)."""
    frames = []
    for i in range(n):
        first = cam.picture(float(i / rate), w, h)
        second = cam.picture(float((i + Fraction(1, 2)) / rate), w, h)
        frame = first.copy()
        if order == "tff":
            frame[1::2] = second[1::2]
        else:
            frame[0::2] = second[0::2]
        frames.append(frame)
    return frames


def telecined(film: list[np.ndarray], phase: int = 0) -> list[np.ndarray]:
    """3:2 pulldown (top field first): film frames A B C D -> AA BB BC CD DD, as fields."""
    fields = []  # (picture, parity) in display order: top, bottom, top, ...
    for k, pic in enumerate(film):
        fields += [pic] * (3 if (k + phase) % 2 == 0 else 2)
    frames = []
    for i in range(0, len(fields) - 1, 2):
        frame = fields[i].copy()
        frame[1::2] = fields[i + 1][1::2]
        frames.append(frame)
    return frames


def encode(frames: list[np.ndarray], rate: Fraction, out: Path, *codec: str, vf: str = "") -> Path:
    h, w = frames[0].shape
    args = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "gray", "-s",
            f"{w}x{h}", "-r", f"{rate.numerator}/{rate.denominator}", "-i", "-"]  # fmt: skip
    if vf:
        args += ["-vf", vf]
    args += [*codec, str(out)]
    data = b"".join(np.ascontiguousarray(f, dtype=np.uint8).tobytes() for f in frames)
    subprocess.run(args, input=data, check=True, capture_output=True, timeout=300)
    return out


X264 = ("-c:v", "libx264", "-crf", "16", "-pix_fmt", "yuv420p", "-preset", "veryfast")
X264_INTERLACED = ("-c:v", "libx264", "-crf", "16", "-pix_fmt", "yuv420p", "-flags", "+ildct+ilme",
                   "-preset", "veryfast")  # fmt: skip


def mpeg2(top: int) -> tuple[str, ...]:
    return ("-c:v", "mpeg2video", "-flags", "+ildct+ilme", "-top", str(top), "-q:v", "2",
            "-pix_fmt", "yuv420p")  # fmt: skip


def soft_telecine(film: list[np.ndarray], out: Path, muxer: str, field_dct: bool = True) -> Path:
    """DVD-style soft telecine with B-frames: 24000/1001 progressive pictures coded with 3:2
    repeat-first-field flags set in display order (temporal_reference), a 30000/1001 sequence
    header, in an MPEG program (`vob`) or transport (`mpegts`) stream.

    `field_dct=False` codes the pictures as a progressive sequence (frame DCT only, as DVD
    encoders code film) before the sequence is flagged interlaced: the picture height must then
    be a multiple of 32, because an interlaced sequence counts its macroblock rows in field pairs
    (240 lines would lose the last slice row, 224 and 480 keep every one)."""
    es = out.with_suffix(".m2v")
    dct = ["-flags", "+ildct"] if field_dct else []
    encode(film, FILM, es, "-c:v", "mpeg2video", *dct, "-bf", "2", "-g", "12",
           "-q:v", "2", "-pix_fmt", "yuv420p", "-f", "mpeg2video")  # fmt: skip
    data = bytearray(es.read_bytes())
    coded = gop_start = in_gop = 0
    display = 0
    i = data.find(b"\x00\x00\x01")
    while i >= 0 and i + 8 < len(data):
        code = data[i + 3]
        if code == 0xB3:  # sequence header: frame_rate_code 4 = 30000/1001
            data[i + 7] = (data[i + 7] & 0xF0) | 0x04
        elif code == 0xB8:  # group of pictures: temporal references restart
            gop_start, in_gop = gop_start + in_gop, 0
        elif code == 0x00:  # picture header: temporal_reference (10 bits)
            display = gop_start + ((data[i + 4] << 2) | (data[i + 5] >> 6))
            in_gop += 1
            coded += 1
        elif code == 0xB5 and data[i + 4] >> 4 == 1:  # sequence extension: progressive_sequence=0
            data[i + 5] &= ~0x08 & 0xFF
        elif code == 0xB5 and data[i + 4] >> 4 == 8:  # picture coding extension
            tff, rff = [(1, 1), (0, 0), (0, 1), (1, 0)][display % 4]
            data[i + 7] = (data[i + 7] & ~0x82 & 0xFF) | (tff << 7) | (rff << 1)
            data[i + 8] |= 0x80  # progressive_frame
        i = data.find(b"\x00\x00\x01", i + 3)
    es.write_bytes(bytes(data))
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-fflags", "+genpts", "-r", "30000/1001", "-i", str(es),
         "-c:v", "copy", "-f", muxer, str(out)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    es.unlink()
    return out


@dataclass
class Case:
    name: str
    truth: str  # progressive | interlaced | hard_telecine | soft_telecine | mixed
    order: str | None = None
    accept: tuple[str, ...] = field(default_factory=tuple)  # other acceptable calls


def striped(frames: list[np.ndarray], period: int = 2) -> list[np.ndarray]:
    """Fine horizontal stripes (a shirt, a grille) in a band that moves with the picture."""
    out = []
    for i, f in enumerate(frames):
        f = f.copy()
        h, w = f.shape
        x = (i * 3) % max(1, w // 2)
        band = f[h // 3 : h // 3 + h // 4, x : x + w // 3]
        rows = (np.arange(band.shape[0]) // (period // 2 or 1)) % 2 == 0
        band[rows] = np.clip(band[rows].astype(int) + 70, 0, 255)
        out.append(f)
    return out


def captioned(film_frames: list[np.ndarray], rate: Fraction, order: str = "tff") -> list:
    """Telecined film with an interlaced (field-rate) scrolling caption band burnt in."""
    h, w = film_frames[0].shape
    band = woven(Camera(speed=400, direction=(1, 0), view=0.15, x0=900), w, h // 5, rate,
                 len(film_frames), order)  # fmt: skip
    out = []
    for f, b in zip(film_frames, band, strict=True):
        f = f.copy()
        f[h - h // 5 - 8 : h - 8] = b
        out.append(f)
    return out


def noisy(frames: list[np.ndarray], sigma: float, seed: int = 1) -> list[np.ndarray]:
    """Camera noise: Gaussian, independent per frame."""
    rng = np.random.default_rng(seed)
    return [np.clip(f + rng.normal(0, sigma, f.shape), 0, 255).astype(np.uint8) for f in frames]


def boxed(moving: list[np.ndarray], still: list[np.ndarray]) -> list[np.ndarray]:
    """Motion in one box of an otherwise still picture (a talking head, a screen insert)."""
    out = []
    for m, s in zip(moving, still, strict=True):
        h, w = s.shape
        f = s.copy()
        f[h // 3 : h // 2, w // 8 : w // 2] = m[h // 3 : h // 2, w // 8 : w // 2]
        out.append(f)
    return out


def build(folder: Path) -> dict[str, tuple[Path, Case]]:
    """Every case, encoded into `folder`: {name: (path, case)}."""
    folder.mkdir(parents=True, exist_ok=True)
    made: dict[str, tuple[Path, Case]] = {}
    pan, vpan = Camera(), Camera(speed=28, direction=(0, 1))
    zoom = Camera(speed=30, zoom=0.4)

    def add(name, truth, frames, rate, suffix, *codec, order=None, accept=(), vf=""):
        path = encode(frames, rate, folder / f"{name}{suffix}", *codec, vf=vf)
        made[name] = (path, Case(name, truth, order, tuple(accept)))

    ffv1 = ("-c:v", "ffv1")
    # Progressive: sizes, aliasing, stripes, vertical pans, stills, line-doubled, lying flags.
    for w, h, rate, n in [(176, 144, NTSC, 36), (176, 144, PAL, 30), (352, 288, PAL, 30),
                          (720, 480, NTSC, 24), (720, 576, PAL, 20), (1280, 720, NTSC, 20),
                          (1920, 1080, PAL, 18)]:  # fmt: skip
        add(f"p_{w}x{h}_{float(rate):.0f}", "progressive", progressive(pan, w, h, rate, n), rate,
            ".mp4", *X264)  # fmt: skip
    for w, h in [(190, 142), (97, 61), (250, 333)]:
        add(f"p_odd_{w}x{h}", "progressive", progressive(pan, w, h, NTSC, 30), NTSC, ".mkv", *ffv1)
    nearest = Image.Resampling.NEAREST
    add("p_alias_176", "progressive", progressive(pan, 176, 144, NTSC, 36, resample=nearest),
        NTSC, ".mp4", *X264)  # fmt: skip
    add("p_alias_120", "progressive", progressive(zoom, 160, 120, PAL, 30, resample=nearest),
        PAL, ".mp4", *X264)  # fmt: skip
    add("p_stripes_2", "progressive", striped(progressive(pan, 320, 240, NTSC, 30)), NTSC, ".mp4",
        *X264)  # fmt: skip
    add("p_stripes_4", "progressive", striped(progressive(pan, 176, 144, PAL, 30), 4), PAL,
        ".mkv", *ffv1)  # fmt: skip
    add("p_vpan_slow", "progressive", progressive(vpan, 320, 240, NTSC, 30), NTSC, ".mp4", *X264)
    add("p_vpan_fast", "progressive", progressive(Camera(speed=150, direction=(0, 1), view=0.4),
        320, 240, PAL, 30), PAL, ".mp4", *X264)  # fmt: skip
    add("p_zoom", "progressive", progressive(zoom, 320, 240, FILM, 30), FILM, ".mp4", *X264)
    add("p_still", "progressive", progressive(STILL, 320, 240, NTSC, 24), NTSC, ".mp4", *X264)
    add("p_still_flagged", "progressive", progressive(STILL, 320, 240, NTSC, 24), NTSC, ".mpg",
        *mpeg2(1))  # fmt: skip
    add("p_line_doubled", "progressive",
        [np.repeat(f[::2], 2, axis=0) for f in progressive(pan, 176, 144, NTSC, 36)], NTSC, ".mp4",
        *X264)  # fmt: skip
    add("p_nearest_x4", "progressive",
        [np.repeat(np.repeat(f, 4, axis=0), 4, axis=1) for f in progressive(pan, 44, 36, NTSC, 36)],
        NTSC, ".mp4", *X264)  # fmt: skip
    add("p_flagged_tff", "progressive", progressive(pan, 320, 240, NTSC, 30), NTSC, ".mpg",
        *mpeg2(1))  # fmt: skip
    add("p_psf_25", "progressive", progressive(pan, 720, 576, PAL, 20), PAL, ".mpg", *mpeg2(1))
    fast, lowq = Camera(speed=300), ("-c:v", "mpeg2video", "-q:v", "20", "-flags", "+ildct+ilme")
    add("p_noisy_qcif", "progressive", noisy(progressive(pan, 176, 144, NTSC, 36), 4), NTSC,
        ".mp4", *X264)  # fmt: skip
    add("p_low_quality", "progressive", progressive(pan, 176, 144, NTSC, 36), NTSC, ".mpg", *lowq)
    add("p_moving_box", "progressive", boxed(progressive(fast, 352, 288, PAL, 30),
        progressive(STILL, 352, 288, PAL, 30)), PAL, ".mpg", *mpeg2(1))  # fmt: skip
    add("i_noisy_bff", "interlaced", noisy(woven(pan, 176, 144, NTSC, 36, "bff"), 5), NTSC,
        ".mpg", *mpeg2(0), order="bff")  # fmt: skip
    add("i_low_quality", "interlaced", woven(pan, 176, 144, NTSC, 36, "tff"), NTSC, ".mpg",
        *lowq, "-top", "1", order="tff")  # fmt: skip
    add("i_moving_box", "interlaced", boxed(woven(fast, 352, 288, PAL, 30, "tff"),
        progressive(STILL, 352, 288, PAL, 30)), PAL, ".mpg", *mpeg2(1), order="tff")  # fmt: skip
    # Interlaced, woven from field-rate pictures.
    for w, h, rate, n, order, suffix, codec in [
        (720, 480, NTSC, 24, "tff", ".mpg", mpeg2(1)),
        (720, 480, NTSC, 24, "bff", ".mpg", mpeg2(0)),
        (720, 576, PAL, 20, "tff", ".mpg", mpeg2(1)),
        (720, 576, PAL, 20, "bff", ".ts", mpeg2(0)),
        (1920, 1080, PAL, 18, "tff", ".ts", mpeg2(1)),
        (1920, 1080, NTSC, 18, "bff", ".mkv", X264_INTERLACED),
        (320, 240, NTSC, 30, "tff", ".mpg", mpeg2(1)),
        (176, 144, PAL, 30, "bff", ".mpg", mpeg2(0)),
    ]:
        add(f"i_{h}_{order}_{suffix[1:]}", "interlaced", woven(pan, w, h, rate, n, order), rate,
            suffix, *codec, order=order)  # fmt: skip
    add("i_dv_bff", "interlaced", woven(pan, 720, 480, NTSC, 20, "bff"), NTSC, ".avi", "-c:v",
        "dvvideo", "-pix_fmt", "yuv411p", "-top", "0", order="bff")  # fmt: skip
    add("i_flagged_prog_tff", "interlaced", woven(zoom, 320, 240, NTSC, 30, "tff"), NTSC, ".mkv",
        *ffv1, order="tff", vf="setfield=prog")  # fmt: skip
    add("i_flagged_prog_bff", "interlaced", woven(pan, 352, 288, PAL, 30, "bff"), PAL, ".mp4",
        *X264, order="bff")  # fmt: skip
    add("i_flagged_tff_is_bff", "interlaced", woven(pan, 320, 240, NTSC, 30, "bff"), NTSC, ".mpg",
        *mpeg2(1), order="bff")  # fmt: skip
    # Telecine.
    film = progressive(pan, 320, 240, FILM, 48)
    add("hard_ps", "hard_telecine", telecined(film), NTSC, ".mpg", *mpeg2(1))
    add("hard_mxf", "hard_telecine", telecined(progressive(pan, 160, 120, FILM, 48)), NTSC,
        ".mxf", *mpeg2(1))  # fmt: skip
    add("hard_480", "hard_telecine", telecined(progressive(zoom, 720, 480, FILM, 32)), NTSC,
        ".mpg", *mpeg2(1))  # fmt: skip
    add("hard_flagged_prog", "hard_telecine", telecined(film), NTSC, ".mp4", *X264)
    shot2 = progressive(Camera(speed=200, direction=(-1, 0.1), x0=1500), 320, 240, FILM, 56)
    edits = telecined(film[:21]) + telecined(shot2[:29], 1) + telecined(film[21:], 0)
    add("hard_cadence_breaks", "hard_telecine", edits, NTSC, ".mpg", *mpeg2(1))
    for muxer, suffix in (("vob", ".mpg"), ("mpegts", ".ts")):
        path = soft_telecine(film, folder / f"soft{suffix}", muxer)
        made[f"soft_{muxer}"] = (path, Case(f"soft_{muxer}", "soft_telecine"))
    frame_dct = soft_telecine(progressive(pan, 320, 224, FILM, 48), folder / "soft_fdct.mpg", "vob",
                              field_dct=False)  # fmt: skip
    made["soft_frame_dct"] = (frame_dct, Case("soft_frame_dct", "soft_telecine"))
    # Mixed.
    video = woven(pan, 320, 240, NTSC, 90, "tff")
    long_film = telecined(progressive(pan, 320, 240, FILM, 96))
    add("mixed_film_video", "mixed", long_film + video, NTSC, ".mpg", *mpeg2(1), order="tff")
    add("mixed_video_film", "mixed", video + long_film, NTSC, ".mpg", *mpeg2(1), order="tff")
    add("film_interlaced_captions", "interlaced", captioned(telecined(film), NTSC), NTSC, ".mpg",
        *mpeg2(1), order="tff", accept=("mixed",))  # fmt: skip
    return made
