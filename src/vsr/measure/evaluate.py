"""`vsr evaluate`: measured quality of the upscalers, the full-reference protocol of SR papers.

High-resolution (HR) frames -> bicubic x1/4 (antialiased) -> model x4 -> PSNR-Y and SSIM-Y with
a 4-pixel border shaved, next to bicubic x4 of the same input. On real photos (scikit-image) and
on clips with ground truth (camera moves over real photos rendered at HR, then downscaled), where
flicker is measured too. Writes metrics.csv, metrics.json, quality.png (plot) and
crops/<item>.png (bicubic | models | original).

`vsr evaluate video SOURCE FINAL SUMMARY OUT_DIR` is the report panel's step
(`vsr step panel`, `vsr.steps.panel`) under its older name.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vsr.errors import VsrError, print_error
from vsr.media import metrics as q

log = logging.getLogger(__name__)

SCALE = 4
BORDER = 4
BICUBIC = "bicubic"
DEFAULT_MODELS = (
    BICUBIC, "dat-light-x4", "realesrgan-x4plus", "realesr-animevideov3", "realcugan",
)  # fmt: skip
DEFAULT_IMAGES = ("astronaut", "coffee", "chelsea", "rocket", "camera", "stereo_motorcycle")
PERCEPTUAL_NOTE = "GAN, trained for perceptual quality, not PSNR"
PANEL = 96  # HR pixels per side of each crop in the side-by-side pictures


@dataclass
class Item:
    """Ground-truth HR frames (one for an image) to degrade, upscale and compare."""

    kind: str  # image | clip
    name: str
    frames: list[np.ndarray]
    lr: list[np.ndarray] = field(default_factory=list)
    motions: list[tuple[float, float]] = field(default_factory=list)  # clips: camera moves

    def __post_init__(self) -> None:
        self.frames = [q.crop_to_multiple(q.as_rgb(f), SCALE) for f in self.frames]
        self.lr = [q.bicubic_down(f, SCALE) for f in self.frames]
        self.motions = q.clip_motions(self.frames) if self.kind == "clip" else []


def photo(name: str) -> np.ndarray:
    from skimage import data

    loader = getattr(data, name, None)
    if loader is None or name.startswith("_"):
        raise VsrError(name, "not a scikit-image sample photo (e.g. astronaut, coffee, chelsea)")
    loaded = loader()
    return q.as_rgb(loaded[0] if isinstance(loaded, tuple) else loaded)  # stereo: left view


def image_items(names: list[str], crop: int) -> list[Item]:
    return [Item("image", name, [q.centre_crop(photo(name), crop)]) for name in names]


def pan_clip(frames: int, width: int, height: int) -> list[np.ndarray]:
    """A pure horizontal pan, 1.5 HR pixels (3/8 LR pixel) per frame, over the coffee photo."""
    from skimage import data

    canvas = q.as_rgb(data.coffee())
    top = (canvas.shape[0] - height) // 2
    image = Image.fromarray(canvas[top : top + height])
    return [
        np.asarray(
            image.transform(
                (width, height),
                Image.Transform.AFFINE,
                (1, 0, 1.5 * i, 0, 1, 0),
                Image.Resampling.BICUBIC,
            )
        )
        for i in range(frames)
    ]


def clip_items(frames: int, width: int, height: int) -> list[Item]:
    """The bundled sample's camera move (pan, zoom, tilt; slowed to 1/8 its speed) and a pan."""
    from vsr.media.sample import ClipSpec, render_frames

    move = render_frames(ClipSpec(width=width, height=height, frames=8 * frames, flash_frames=()))
    middle = 4 * frames - frames // 2
    return [
        Item("clip", "sample-move", move[middle : middle + frames]),
        Item("clip", "pan", pan_clip(frames, width, height)),
    ]


def file_items(paths: list[str], crop: int, frames: int) -> list[Item]:
    """The user's own HR images (any PIL format) and videos (the first `frames` frames)."""
    items = []
    for path in map(Path, paths):
        if not path.is_file():
            raise VsrError(path, "HR file not found")
        try:
            items.append(Item("image", path.stem, [q.centre_crop(_read_image(path), crop)]))
        except OSError:
            items.append(Item("clip", path.stem, _read_video(path, frames)))
    return items


def _read_image(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _read_video(path: Path, frames: int) -> list[np.ndarray]:
    import av

    try:
        with av.open(str(path)) as container:
            decoded = (f.to_ndarray(format="rgb24") for f in container.decode(video=0))
            result = [frame for _, frame in zip(range(frames), decoded, strict=False)]
    except av.error.FFmpegError as error:
        raise VsrError(path, f"neither an image nor a readable video ({error})") from None
    if len(result) < 2:
        raise VsrError(path, "a clip needs at least two frames")
    return result


class Runner:
    """Upscales LR frames with one model (loaded once); `bicubic` needs no model."""

    def __init__(self, model: str, device: str, tile: int, threads: int | None):
        self.model = model
        self.upscaler = None
        if model != BICUBIC:
            from vsr.infer.upscaler import Upscaler

            self.upscaler = Upscaler(model, device=device, tile=tile, threads=threads)

    def run(self, lr: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
        start = time.perf_counter()
        if self.upscaler is None:
            out = [q.bicubic_up(frame, SCALE) for frame in lr]
        else:
            out = list(self.upscaler.upscale(np.stack(lr)))
        return out, time.perf_counter() - start


def is_perceptual(model: str) -> bool:
    """Whether the model's family synthesises detail (GAN-trained: scored for looks, not PSNR);
    `model` may carry a `+stabilize...` suffix (a stabilised row of it)."""
    from vsr.models.catalogue import family_of

    family = family_of(model.partition("+")[0])
    return bool(family and family.synthesises_detail)


def score(item: Item, model: str, out: list[np.ndarray], seconds: float) -> dict[str, Any]:
    pairs = list(zip(out, item.frames, strict=True))
    row: dict[str, Any] = {
        "kind": item.kind,
        "item": item.name,
        "model": model,
        "hr_size": f"{item.frames[0].shape[1]}x{item.frames[0].shape[0]}",
        "frames": len(out),
        "psnr_y": float(np.mean([q.psnr_y(o, h, BORDER) for o, h in pairs])),
        "ssim_y": float(np.mean([q.ssim_y(o, h, BORDER) for o, h in pairs])),
        "seconds": seconds,
        "note": PERCEPTUAL_NOTE if is_perceptual(model) else "",
    }
    if item.kind == "clip":
        row["temporal_change"] = q.temporal_change(out, BORDER)
        row["temporal_change_gt"] = q.temporal_change(item.frames, BORDER)
        row["temporal_error"] = q.temporal_error(out, item.frames, BORDER)
        row["warping_error"] = q.warping_error(out, item.motions, BORDER)
        row["warping_error_gt"] = q.warping_error(item.frames, item.motions, BORDER)
    return row


def add_gains(rows: list[dict[str, Any]]) -> None:
    """Each row's gain over bicubic on the same item (PSNR dB, SSIM, flicker ratio)."""
    base = {r["item"]: r for r in rows if r["model"] == BICUBIC}
    for row in rows:
        ref = base.get(row["item"])
        if ref is None:
            continue
        row["psnr_gain_db"] = row["psnr_y"] - ref["psnr_y"]
        row["ssim_gain"] = row["ssim_y"] - ref["ssim_y"]
        if "warping_error" in row:
            row["flicker_vs_bicubic"] = row["warping_error"] / ref["warping_error"]


@dataclass
class Options:
    models: list[str]
    stabilize: float = 0.0
    device: str = "auto"
    tile: int = 0
    threads: int | None = None


def evaluate(items: list[Item], options: Options) -> tuple[list[dict[str, Any]], dict]:
    """Every model on every item: metric rows, and the outputs kept for the pictures."""
    from vsr.infer.temporal import stabilise

    rows, outputs = [], {}
    for model in options.models:
        runner = Runner(model, options.device, options.tile, options.threads)
        for item in items:
            out, seconds = runner.run(item.lr)
            rows.append(score(item, model, out, seconds))
            outputs[item.name, model] = out
            log.info("%s on %s: PSNR-Y %.2f dB", model, item.name, rows[-1]["psnr_y"])
            if item.kind == "clip" and options.stabilize and model != BICUBIC:
                steady = stabilise(item.lr, out, options.stabilize)
                rows.append(score(item, f"{model}+stabilize{options.stabilize:g}", steady, 0.0))
    add_gains(rows)
    return rows, outputs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vsr evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    parser.add_argument(
        "--images",
        nargs="*",
        default=list(DEFAULT_IMAGES),
        help="scikit-image photos (none: skip images)",
    )
    parser.add_argument("--hr", nargs="*", default=[], help="your own HR images or videos")
    parser.add_argument("--crop", type=int, default=256, help="HR centre crop side (0: whole)")
    parser.add_argument("--clip-frames", type=int, default=12, help="0: no clips")
    parser.add_argument("--clip-size", default="256x144", help="HR clip size WxH")
    parser.add_argument(
        "--stabilize",
        type=float,
        default=0.0,
        help="also score clips with temporal stabilisation of this strength",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--tile", type=int, default=0)
    parser.add_argument("--threads", type=int)
    parser.add_argument("-o", "--out", default="results/evaluate")
    return parser


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    from vsr.measure.evaluate_report import crops, format_means, plot, write_tables

    try:
        if argv[:1] == ["video"]:
            return _panel_main(argv[1:])
        args = build_parser().parse_args(argv)
        items = collect_items(args)
        out_dir = Path(args.out)
        out_dir.mkdir(parents=True, exist_ok=True)
        options = Options(args.models, args.stabilize, args.device, args.tile, args.threads)
        rows, outputs = evaluate(items, options)
        report = write_tables(rows, out_dir)
        plot(rows, out_dir / "quality.png")
        crops(items, rows, outputs, out_dir)
        print(format_means(report))
        print(out_dir / "metrics.json")
    except (VsrError, ValueError) as error:
        print_error(error, prog="vsr evaluate")
        return 2
    return 0


def collect_items(args: argparse.Namespace) -> list[Item]:
    if args.crop < 0 or args.clip_frames < 0 or args.clip_frames == 1:
        raise VsrError(f"--crop {args.crop} --clip-frames {args.clip_frames}", "out of range")
    items = image_items(args.images, args.crop) + file_items(args.hr, args.crop, args.clip_frames)
    if args.clip_frames:
        width, height = parse_size(args.clip_size)
        items += clip_items(args.clip_frames, width, height)
    if not items:
        raise VsrError("vsr evaluate", "nothing to evaluate (no images, files or clips)")
    return items


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise VsrError(text, "size must be WIDTHxHEIGHT, e.g. 256x144") from None
    if width < 4 * SCALE or height < 4 * SCALE:
        raise VsrError(text, f"size must be at least {4 * SCALE}x{4 * SCALE}")
    return width, height


def _panel_main(argv: list[str]) -> int:
    from vsr.steps import panel

    parser = argparse.ArgumentParser(prog="vsr evaluate video", description=panel.run.__doc__)
    panel.add_arguments(parser)
    panel.run(parser.parse_args(argv))
    return 0
