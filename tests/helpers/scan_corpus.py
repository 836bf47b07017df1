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
from PIL import Image, ImageDraw, ImageFilter, ImageFont

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


@cache
def _sprites() -> tuple[Image.Image, Image.Image, Image.Image]:
    """A disc cut from one photo (with its mask) and a strip from another: the moving layers."""
    from skimage import data

    disc = Image.fromarray(data.coffee()[..., :3]).convert("L").crop((150, 40, 450, 340))
    mask = Image.new("L", disc.size, 0)
    ImageDraw.Draw(mask).ellipse((0, 0, *disc.size), fill=255)
    strip = Image.fromarray(data.camera()).crop((100, 0, 260, 512))
    return disc, mask, strip


@dataclass(frozen=True)
class Scene:
    """Several independently moving layers over a camera move, as a real shot has them: the
    background pans (and zooms with the camera), a disc rotates, grows and crosses the picture
    on its own path, a photo strip moves the other way in front of it (occlusion), and each
    picture is the average over the shutter (motion blur)."""

    camera: Camera = Camera(speed=90, direction=(1, 0.2), zoom=0.05)
    spin: float = 90.0  # degrees per second
    cross: float = 0.35  # picture widths per second the disc travels
    shutter: float = 1 / 60  # seconds the shutter stays open
    soft: float = 0.0  # Gaussian blur radius (pixels) of a soft transfer

    def picture(self, t: float, width: int, height: int) -> np.ndarray:
        subs = [self._instant(t + self.shutter * k, width, height) for k in range(2)]
        pic = Image.fromarray(np.mean(subs, axis=0).round().astype(np.uint8))
        if self.soft:
            pic = pic.filter(ImageFilter.GaussianBlur(self.soft))
        return np.asarray(pic)

    def _instant(self, t: float, width: int, height: int) -> np.ndarray:
        disc, mask, strip = _sprites()
        back = Image.fromarray(self.camera.picture(t, width, height))
        size = max(8, round(height * (0.45 + 0.15 * np.sin(t * 1.7))))
        angle = self.spin * t
        cubic = Image.Resampling.BICUBIC
        d = disc.resize((size, size), cubic).rotate(angle, cubic)
        m = mask.resize((size, size), cubic).rotate(angle, cubic)
        x = round(width * ((0.05 + self.cross * t) % 1.0) - size / 2)
        y = round(height * (0.5 + 0.25 * np.sin(t * 2.3)) - size / 2)
        back.paste(d, (x, y), m)
        sw, sh = max(4, width // 5), height
        s = strip.resize((sw, sh), Image.Resampling.BICUBIC)
        back.paste(s, (round(width * (0.9 - 0.3 * t) % (width + sw)) - sw, 0))
        return np.asarray(back, dtype=np.float32)


def scene_progressive(scene: Scene, w: int, h: int, rate: Fraction, n: int, start: float = 0.0):
    return [scene.picture(start + float(i / rate), w, h) for i in range(n)]


def scene_woven(scene: Scene, w: int, h: int, rate: Fraction, n: int, order: str = "tff",
                start: float = 0.0) -> list[np.ndarray]:  # fmt: skip
    """Interlaced frames of the scene: each field its own instant."""
    frames = []
    for i in range(n):
        first = scene.picture(start + float(i / rate), w, h)
        second = scene.picture(start + float((i + Fraction(1, 2)) / rate), w, h)
        frame = first.copy()
        rows = slice(1, None, 2) if order == "tff" else slice(0, None, 2)
        frame[rows] = second[rows]
        frames.append(frame)
    return frames


def grain(frames: list[np.ndarray], sigma: float, seed: int = 2) -> list[np.ndarray]:
    """Film grain: noise clumped over 2x2 pixels, new in every frame."""
    rng = np.random.default_rng(seed)
    out = []
    for f in frames:
        h, w = f.shape
        g = rng.normal(0, sigma, ((h + 1) // 2, (w + 1) // 2)).repeat(2, 0).repeat(2, 1)[:h, :w]
        out.append(np.clip(f + g, 0, 255).astype(np.uint8))
    return out


def tape(frames: list[np.ndarray], sigma: float = 7.0, seed: int = 3) -> list[np.ndarray]:
    """An analogue tape transfer: noise, a few white dropout streaks on single lines in every
    frame, and line-to-line timing jitter of a pixel."""
    rng = np.random.default_rng(seed)
    out = []
    for f in frames:
        g = f.astype(np.float32) + rng.normal(0, sigma, f.shape)
        h, w = f.shape
        for _ in range(4):
            y, x = int(rng.integers(0, h)), int(rng.integers(0, max(1, w - 30)))
            g[y, x : x + int(rng.integers(6, 30))] = 235
        shifts = rng.integers(-1, 2, h)
        g = np.stack([np.roll(row, int(s)) for row, s in zip(g, shifts, strict=True)])
        out.append(np.clip(g, 0, 255).astype(np.uint8))
    return out


def fade(frames: list[np.ndarray], lead: int, tail: int) -> list[np.ndarray]:
    """Fade up from black over the first `lead` frames and down to black over the last `tail`."""
    n = len(frames)
    gains = [min(1.0, (i + 1) / max(1, lead), (n - i) / max(1, tail)) for i in range(n)]
    return [np.clip(f * g, 0, 255).astype(np.uint8) for f, g in zip(frames, gains, strict=True)]


def dark(frames: list[np.ndarray]) -> list[np.ndarray]:
    """A low-key scene: the picture squeezed into the bottom of the range (mean luma ~20)."""
    return [np.clip(8 + f.astype(np.float32) * 0.12, 0, 255).astype(np.uint8) for f in frames]


def credits(w: int, h: int, rate: Fraction, n: int, start: float = 0.0, speed: float = 40.0,
            order: str | None = None) -> list[np.ndarray]:  # fmt: skip
    """White names scrolling up over near-black (luma 16): progressive pictures, or woven into
    fields (video-rate credits) when `order` is given."""
    font = ImageFont.load_default(size=max(8, h // 12))
    lines = [f"{role}  {name}" for role, name in zip(
        ["Camera", "Sound", "Editor", "Grip", "Colour", "Music", "Producer", "Director"] * 4,
        ["A. Lind", "B. Okafor", "C. Ruiz", "D. Chen", "E. Novak", "F. Haddad", "G. Sato",
         "H. Berg"] * 4, strict=True)]  # fmt: skip

    def at(t: float) -> np.ndarray:
        img = Image.new("L", (w, h), 16)
        draw = ImageDraw.Draw(img)
        top = h * 0.3 - speed * (t - start) * h / 240
        for k, text in enumerate(lines):
            y = top + k * h / 8
            if -h / 8 < y < h:
                draw.text((w // 6, y), text, fill=235, font=font, stroke_width=h // 200,
                          stroke_fill=235)  # fmt: skip
        return np.asarray(img)

    frames = []
    for i in range(n):
        t = start + float(i / rate)
        frame = at(t).copy()
        if order:
            rows = slice(1, None, 2) if order == "tff" else slice(0, None, 2)
            frame[rows] = at(t + float(1 / rate / 2))[rows]
        frames.append(frame)
    return frames


@dataclass
class MotionCase:
    """A case with its truth: the scan type and field order, the film pictures a viewer of the
    source saw in its film sections (in order) and the number of video-rate pictures, so the
    pictures the output must hold are known: `film` + `video` frames."""

    name: str
    truth: str
    order: str | None = None
    film: list[np.ndarray] = field(default_factory=list, repr=False)
    video: int = 0

    @property
    def frames(self) -> int:
        return len(self.film) + self.video


def build_motion(folder: Path) -> dict[str, tuple[Path, MotionCase]]:
    """Short titles (1-4 s, QCIF to 320x240) of composite shots with real motion (`Scene`), with
    grain, tape noise and dropouts, fades, dark scenes and credits; interlaced, telecined with
    cadence breaks, and mixed in both orders and in several sections."""
    folder.mkdir(parents=True, exist_ok=True)
    made: dict[str, tuple[Path, MotionCase]] = {}
    shot, other = Scene(), Scene(Camera(speed=140, direction=(-1, 0.1), x0=1500), spin=-60)
    q, s = (176, 144), (320, 240)

    def add(case: MotionCase, frames, rate, suffix, *codec, vf=""):
        made[case.name] = (encode(frames, rate, folder / f"{case.name}{suffix}", *codec, vf=vf),
                           case)  # fmt: skip

    def film(scene, size, n, start=0.0):
        return [f.astype(np.uint8) for f in scene_progressive(scene, *size, FILM, n, start)]

    def u8(frames):
        return [np.clip(f, 0, 255).astype(np.uint8) for f in frames]

    # Progressive.
    frames = u8(scene_progressive(shot, *q, PAL, 50))
    add(MotionCase("layers_qcif", "progressive", video=50), frames, PAL, ".mp4", *X264)
    soft = Scene(soft=1.6, spin=30, cross=0.2)
    frames = u8(scene_progressive(soft, 160, 120, NTSC, 90))
    add(MotionCase("soft_small_3s", "progressive", video=90), frames, NTSC, ".mp4", "-c:v",
        "libx264", "-crf", "26", "-pix_fmt", "yuv420p", "-preset", "veryfast")  # fmt: skip
    frames = grain(scene_progressive(shot, *s, FILM, 48), 8)
    add(MotionCase("grain_24p", "progressive", video=48), frames, FILM, ".mp4", *X264)
    frames = fade(dark(scene_progressive(other, *q, PAL, 50)), 12, 12)
    add(MotionCase("dark_fades", "progressive", video=50), frames, PAL, ".mkv", "-c:v", "ffv1")
    frames = u8(scene_progressive(shot, *q, PAL, 25)) + credits(*q, PAL, 25)
    add(MotionCase("credits_on_black", "progressive", video=50), frames, PAL, ".mp4", *X264)
    frames = u8(scene_progressive(shot, *q, NTSC, 60))
    add(MotionCase("qcif_late_start", "progressive", video=60), frames, NTSC, ".mp4", *X264,
        "-output_ts_offset", "1.371")  # fmt: skip
    # Interlaced.
    frames = u8(scene_woven(shot, 352, 288, PAL, 29, "tff"))
    add(MotionCase("short_1s_mxf", "interlaced", "tff", video=29), frames, PAL, ".mxf",
        *mpeg2(1))  # fmt: skip
    frames = tape(u8(scene_woven(other, *s, NTSC, 60, "bff")))
    add(MotionCase("tape_noise_dropouts", "interlaced", "bff", video=60), frames, NTSC, ".mpg",
        *mpeg2(0))  # fmt: skip
    frames = dark(scene_woven(shot, *q, PAL, 50, "tff"))
    add(MotionCase("dark_interlaced", "interlaced", "tff", video=50), frames, PAL, ".mpg",
        *mpeg2(1))  # fmt: skip
    frames = fade(grain(scene_woven(other, *q, NTSC, 75, "tff"), 6), 15, 15)
    add(MotionCase("grain_fades_2_5s", "interlaced", "tff", video=75), frames, NTSC, ".mpg",
        *mpeg2(1))  # fmt: skip
    # Hard telecine: a moving shot; film then film-rate credits over black, with grain; three
    # shots cut without keeping the cadence.
    pics = film(shot, s, 72)
    add(MotionCase("film_layers", "hard_telecine", film=pics), telecined(pics), NTSC, ".mpg",
        *mpeg2(1))  # fmt: skip
    pics = grain(film(other, q, 40) + credits(*q, FILM, 40, start=2.0, speed=150), 5)
    add(MotionCase("film_credits_grain", "hard_telecine", film=pics), telecined(pics), NTSC,
        ".mpg", *mpeg2(1))  # fmt: skip
    a, b, c = film(shot, q, 22), film(other, q, 29, 1.0), film(shot, q, 25, 2.0)
    frames = telecined(a) + telecined(b, 1) + telecined(c)
    add(MotionCase("film_cuts", "hard_telecine", film=a + b + c), frames, NTSC, ".mpg",
        *mpeg2(1))  # fmt: skip
    # Mixed: film then video-rate credits, the reverse, and four sections.
    pics = film(shot, s, 56)
    roll = credits(*s, NTSC, 45, start=3.0, speed=80, order="tff")
    add(MotionCase("film_then_video_credits", "mixed", "tff", film=pics, video=45),
        telecined(pics) + roll, NTSC, ".mpg", *mpeg2(1))  # fmt: skip
    add(MotionCase("video_credits_then_film", "mixed", "tff", film=pics, video=45),
        roll + telecined(pics), NTSC, ".mpg", *mpeg2(1))  # fmt: skip
    v1, v2 = u8(scene_woven(other, *q, NTSC, 33, "tff")), u8(scene_woven(shot, *q, NTSC, 36, "tff"))
    f1, f2 = film(shot, q, 32, 1.1), film(other, q, 32, 3.5)
    add(MotionCase("four_sections", "mixed", "tff", film=f1 + f2, video=69),
        v1 + telecined(f1) + v2 + telecined(f2), NTSC, ".mpg", *mpeg2(1))  # fmt: skip
    return made


def _published(shards: Path, index: dict, out: Path) -> list[np.ndarray]:
    """The split step's pictures at their source times, x2 bicubic (standing in for the model),
    encoded as an output; returns the pictures before the upscale (grey)."""
    import av

    base = Fraction(index["time_base"])
    pictures = []
    with av.open(str(out), "w", format="matroska") as dst:
        stream = dst.add_stream("libx264", rate=30)
        stream.width, stream.height = index["width"] * 2, index["height"] * 2
        stream.pix_fmt, stream.time_base = "yuv420p", base
        stream.codec_context.time_base = base
        stream.options = {"crf": "16", "preset": "ultrafast"}
        for shard in index["shards"]:
            with av.open(str(shards / f"{shard['name']}.mkv")) as src:
                for frame, pts in zip(src.decode(video=0), shard["pts"], strict=True):
                    pictures.append(frame.to_ndarray(format="gray"))
                    # From the pixels alone: swscale scales a frame flagged interlaced field by
                    # field, which no model does.
                    plain = av.VideoFrame.from_ndarray(pictures[-1], format="gray")
                    big = plain.reformat(width=stream.width, height=stream.height,
                                         format="yuv420p", interpolation="BICUBIC")  # fmt: skip
                    big.pts, big.time_base = pts, base
                    dst.mux(stream.encode(big))
        dst.mux(stream.encode(None))
    return pictures


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return 10 * np.log10(255**2 / max(mse, 1e-6))


def film_frames_seen(pictures: list[np.ndarray], film: list[np.ndarray]) -> dict[str, int]:
    """Which film frames the output shows: each output picture is the film frame it matches
    (PSNR >= 24 dB, the best of all: a lone field made into a picture reaches ~25) or none (a
    video picture). `recovered`: film frames shown, `repeats`: a film frame shown twice in a
    row."""
    if not film:
        return {"recovered": 0, "repeats": 0, "film": 0}
    small = [f[::2, ::2] for f in film]
    seen: list[int | None] = []
    for p in pictures:
        scores = [_psnr(p[::2, ::2], f) for f in small]
        best = int(np.argmax(scores))
        seen.append(best if scores[best] >= 24 else None)
    repeats = sum(1 for a, b in zip(seen, seen[1:], strict=False) if a is not None and a == b)
    return {"recovered": len({s for s in seen if s is not None}), "repeats": repeats,
            "film": len(film)}  # fmt: skip


def run_case(path: Path, case: MotionCase, folder: Path, plan: dict | None = None) -> dict:
    """A case through the steps that decide and check (probe with its scan, split, QC), with a
    bicubic x2 output: the call, the plan's frames against the run's, the film frames shown and
    QC's verdict. `plan` overrides the picture plan's fields (a wrong decision, to see QC catch
    it)."""
    from vsr.media.decisions import output_frames
    from vsr.steps.probe import write_probe
    from vsr.steps.qc import check
    from vsr.steps.split import split
    from vsr.util import write_json

    work = folder / case.name
    work.mkdir(parents=True, exist_ok=True)
    probe_json = work / "probe.json"
    info = write_probe(path, probe_json)
    if plan:
        info["picture"]["fields"].update(plan)
        write_json(probe_json, info)
    index = split(str(path), str(probe_json), str(work / "shards"), 100000)
    pictures = _published(work / "shards", index, work / "out.mkv")
    qc = check(path, work / "out.mkv", probe_json=str(probe_json),
               index_json=str(work / "shards" / "index.json"))  # fmt: skip
    return {
        "scan": info["picture"]["scan"],
        "review": info["picture"]["review"],
        "mode": info["picture"]["fields"]["mode"],
        "plan_frames": output_frames(info),
        "run_frames": index["frames"],
        "film": film_frames_seen(pictures, case.film),
        "qc": qc,
    }
