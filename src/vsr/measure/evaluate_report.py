"""`vsr evaluate`'s report: metrics.csv and metrics.json, the PSNR/SSIM plot and the crops."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from vsr.measure.evaluate import BORDER, PANEL, PERCEPTUAL_NOTE, SCALE, Item, is_perceptual
from vsr.media import metrics as q
from vsr.media.figures import side_by_side


def means(rows: list[dict[str, Any]], kind: str) -> dict[str, dict[str, float]]:
    """Per-model averages over the items of one kind."""
    keys = ("psnr_y", "ssim_y", "psnr_gain_db", "ssim_gain", "temporal_error", "warping_error")
    keys += ("warping_error_gt", "flicker_vs_bicubic")
    result: dict[str, dict[str, float]] = {}
    for model in dict.fromkeys(r["model"] for r in rows if r["kind"] == kind):
        chosen = [r for r in rows if r["kind"] == kind and r["model"] == model]
        result[model] = {k: float(np.mean([r[k] for r in chosen])) for k in keys if k in chosen[0]}
    return result


def write_tables(rows: list[dict[str, Any]], out_dir: Path) -> dict[str, Any]:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with open(out_dir / "metrics.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    report = {
        "protocol": {
            "degradation": "bicubic x1/4, antialiased (PIL), uint8",
            "metrics": "PSNR and SSIM (Gaussian 11x11, sigma 1.5) on BT.601 Y (16-235)",
            "border_px": BORDER,
            "flicker": (
                "temporal_error = mean |dY_out - dY_gt| between consecutive frames; "
                "warping_error = mean |Y[t+1] - warp(Y[t])| with the ground truth's global motion; "
                "flicker_vs_bicubic = warping_error / bicubic's"
            ),
            "perceptual_models": PERCEPTUAL_NOTE,
        },
        "mean_images": means(rows, "image"),
        "mean_clips": means(rows, "clip"),
        "rows": rows,
    }
    (out_dir / "metrics.json").write_text(json.dumps(report, indent=1) + "\n")
    return report


def plot(rows: list[dict[str, Any]], out: Path) -> None:
    """Grouped bars: PSNR-Y and SSIM-Y per item and model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = list(dict.fromkeys(r["item"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    lookup = {(r["item"], r["model"]): r for r in rows}
    figure, axes = plt.subplots(2, 1, figsize=(max(8, 1.3 * len(items)), 7), sharex=True)
    width = 0.8 / len(models)
    for axis, metric, unit in ((axes[0], "psnr_y", "PSNR-Y (dB)"), (axes[1], "ssim_y", "SSIM-Y")):
        for index, model in enumerate(models):
            values = [lookup.get((i, model), {}).get(metric, np.nan) for i in items]
            label = f"{model} ({PERCEPTUAL_NOTE})" if is_perceptual(model) else model
            axis.bar(np.arange(len(items)) + index * width, values, width, label=label)
        axis.set_ylabel(unit)
        axis.grid(axis="y", alpha=0.3)
    low = np.nanmin([r["psnr_y"] for r in rows])
    axes[0].set_ylim(max(0.0, low - 3), None)
    axes[1].set_xticks(np.arange(len(items)) + 0.4 - width / 2, items, rotation=20)
    axes[1].legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=2)
    axes[0].set_title(
        f"x{SCALE} from bicubic-downscaled real photos and clips ({BORDER}-px border)"
    )
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


def crops(items: list[Item], rows: list[dict], outputs: dict, out_dir: Path) -> list[Path]:
    """crops/<item>.png: the most detailed window, bicubic | each model | original."""
    folder = out_dir / "crops"
    folder.mkdir(exist_ok=True)
    lookup = {(r["item"], r["model"]): r for r in rows}
    written = []
    for item in items:
        frame = len(item.frames) // 2
        truth = item.frames[frame]
        size = min(PANEL, *truth.shape[:2])
        top, left = q.detail_window(truth, size)
        window = (slice(top, top + size), slice(left, left + size))
        panels = []
        for (name, model), out in outputs.items():
            if name == item.name:
                row = lookup[name, model]
                label = f"{model}\n{row['psnr_y']:.2f} dB / {row['ssim_y']:.3f}"
                panels.append((out[frame][window], label))
        panels.append((truth[window], "original (HR)"))
        path = folder / f"{item.name}.png"
        side_by_side(panels, path)
        written.append(path)
    return written


def format_means(report: dict[str, Any]) -> str:
    lines = []
    for kind in ("mean_images", "mean_clips"):
        for model, values in report[kind].items():
            text = ", ".join(f"{k} {v:.3f}" for k, v in values.items())
            lines.append(f"{kind[5:]:6s} {model:40s} {text}")
    return "\n".join(lines)
