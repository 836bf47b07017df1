"""The `panel` step: one video's quality panel for `snakemake --report`.

Inputs: the source, the final video and its summary.json. Outputs in OUT_DIR (`<id>/report/`):
panel.png (a middle frame of the final video beside bicubic of the source at the final size),
quality.json and quality.html (flicker of both, PSNR-Y between them, the summary's per-stage
timings). Cheap: it decodes five frames of each file.
"""

from __future__ import annotations

import argparse
import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from vsr.errors import VsrError
from vsr.media import metrics as q
from vsr.media.figures import ZOOM, side_by_side


def frames_at(path: str, offset_s: float, count: int, quarter_turns: int = 0) -> list[np.ndarray]:
    """`count` RGB frames from `offset_s` after the video's start (seeking: cheap on long ones)."""
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        start_s = float((stream.start_time or 0) * stream.time_base) + offset_s
        if offset_s > 0:
            container.seek(int(start_s / stream.time_base), stream=stream, backward=True)
        result = []
        for frame in container.decode(stream):
            if frame.time is not None and frame.time < start_s - 1e-3:
                continue
            rgb = frame.to_ndarray(format="rgb24")
            result.append(np.ascontiguousarray(np.rot90(rgb, quarter_turns)))
            if len(result) == count:
                break
    if not result:
        raise VsrError(path, f"no frame at {offset_s:.3f} s")
    return result


def middle_frames(
    source: str, final: str, summary: dict[str, Any], count: int = 5
) -> tuple[list[np.ndarray], list[np.ndarray], float]:
    """(bicubic of the source at the final size, the final video, start in seconds): `count`
    frames around the middle, the source turned by its display rotation as the final video's
    pixels are."""
    video = summary["probe"]["video"]
    turns = (video.get("rotation", 0) // 90) % 4
    frames, rate = summary["frames"], _fraction(summary["fps"])
    start_s = max(frames // 2 - count // 2, 0) / rate
    count = min(frames, count)
    low = frames_at(source, start_s, count, turns)
    high = frames_at(final, start_s, count)
    bicubic = [q.resize(f, h.shape[1], h.shape[0]) for f, h in zip(low, high, strict=False)]
    return bicubic, high, start_s


def video_panel(source: str, final: str, summary_json: str, out_dir: Path) -> dict[str, Any]:
    """panel.png (bicubic x4 of the source | the final video, middle frame) and quality.json."""
    summary = json.loads(Path(summary_json).read_text())
    bicubic, high, start_s = middle_frames(source, final, summary)
    shown = min(len(high), len(bicubic)) // 2  # the middle frame of the five
    psnr = q.psnr_y(high[shown], bicubic[shown])
    result = {
        "id": summary["id"],
        "model": summary["model"],
        "frame_time_s": start_s,
        "flicker_final": q.temporal_change(high) if len(high) > 1 else None,
        "flicker_bicubic": q.temporal_change(bicubic) if len(bicubic) > 1 else None,
        "psnr_y_final_vs_bicubic": psnr if np.isfinite(psnr) else None,
        "stages": summary["stages"],
    }
    side_by_side(
        [
            (bicubic[shown], "bicubic of source, final size"),
            (high[shown], f"final ({summary['model']})"),
        ],
        out_dir / "panel.png",
        zoom=1 if high[shown].shape[1] > 640 else ZOOM,
    )
    (out_dir / "quality.json").write_text(json.dumps(result, indent=1) + "\n")
    (out_dir / "quality.html").write_text(quality_html(result))
    return result


def _fraction(text: str) -> float:
    numerator, _, denominator = str(text).partition("/")
    return float(numerator) / float(denominator or 1)


def quality_html(result: dict[str, Any]) -> str:
    rows = [
        ("flicker, final (mean |dY| between frames)", result["flicker_final"]),
        ("flicker, bicubic of source", result["flicker_bicubic"]),
        ("PSNR-Y final vs bicubic (dB; not a quality score)", result["psnr_y_final_vs_bicubic"]),
    ] + [
        (
            f"{stage}: seconds / jobs / fps",
            f"{t['seconds']:.2f} / {t['jobs']} / {t.get('fps', float('nan')):.2f}",
        )
        for stage, t in result["stages"].items()
    ]
    cells = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{v if isinstance(v, str) else _num(v)}</td></tr>"
        for k, v in rows
    )
    title = html.escape(f"{result['id']} ({result['model']})")
    return f"<html><body><h3>{title}</h3><table border=1>{cells}</table></body></html>\n"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for name in ("source", "final", "summary", "out_dir"):
        parser.add_argument(name)


def run(args: argparse.Namespace) -> None:
    """`vsr step panel SOURCE FINAL SUMMARY OUT_DIR`: the report panel of one video."""
    for path in (args.source, args.final, args.summary):
        if not Path(path).is_file():
            raise VsrError(path, "file not found")
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    print(json.dumps(video_panel(args.source, args.final, args.summary, out_dir))[:2000])
