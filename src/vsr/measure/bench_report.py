"""`make bench`'s report: the figure (frames/s per run, per backend) and the printed summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vsr.measure.bench_runs import RUNS


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = results["models"]
    panels = len(models) + bool(results.get("backends"))
    fig, axes = plt.subplots(panels, 1, figsize=(7.5, 2.6 * panels), squeeze=False)
    for entry in results.get("backends", []):  # last panel: model-only by backend
        ax = axes[-1, 0]
        bars = ax.barh(list(entry["fps"]), list(entry["fps"].values()), color="#888")
        ax.bar_label(bars, fmt="%.2f fps")
        ax.set_title(
            f"{entry['model']} model-only by backend ({entry['frames']} frames)", fontsize=8
        )
    for ax, entry in zip(axes[:, 0], models, strict=False):
        values = [entry["fps"][name] for name in RUNS]
        bars = ax.barh(list(RUNS), values, color=["#888", "#2a7", "#c44", "#46c"])
        ax.bar_label(bars, fmt="%.2f fps")
        ax.set_xscale("log")
        ratios = entry["ratios"]
        ax.set_title(
            f"{entry['model']}: {entry['width']}x{entry['height']} -> x4, {entry['frames']} "
            f"frames, {entry['threads']} threads (pipeline {ratios['pipeline_vs_model_only']:.2f}"
            f"x model-only, {ratios['pipeline_vs_per_frame']:.2f}x per-frame)",
            fontsize=8,
        )
    axes[len(models) - 1, 0].set_xlabel("frames/s (log scale; higher is better)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def print_summary(results: dict[str, Any]) -> None:
    for entry in results["models"]:
        print(f"{entry['model']} ({entry['frames']} frames, backend {entry['backend']}):")
        for name, value in entry["fps"].items():
            print(f"  {name:>11}: {value:7.2f} frames/s")
        for name, value in entry["ratios"].items():
            print(f"  {name}: {value:.2f}x")
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in entry["pipeline_steps_s"].items())
        print(f"  pipeline {entry['pipeline_s']:.1f} s; steps: {steps}")
        cpu = entry["cpu_s"]
        print(
            f"  CPU s: model-only {cpu['model_only']:.1f}, pipeline {cpu['pipeline']:.1f}, "
            f"per-frame {cpu['per_frame']:.1f} (model share of the pipeline's CPU: "
            f"{cpu['model_only'] / cpu['pipeline']:.2f})"
        )
        for name, value in entry["quality"].items():
            print(f"  {name}: {value:.1f}")
        gflop = entry["model_gflop_per_frame"]
        print(f"  model: {gflop:.1f} GFLOP/frame, {gflop * entry['fps']['model_only']:.0f} GFLOP/s")
    for entry in results.get("backends", []):
        print(f"model-only by backend, {entry['model']} ({entry['frames']} frames):")
        reference = entry["fps"].get("torch-nchw")
        for name, value in entry["fps"].items():
            ratio = f" ({value / reference:.2f}x eager NCHW)" if reference else ""
            print(f"  {name:>13}: {value:7.2f} frames/s{ratio}")
    for entry in results.get("gpu", []):
        fraction = entry["peak_fraction"]
        share = f", {100 * fraction:.0f}% of fp16 peak" if fraction else ""
        print(
            f"GPU {entry['device']} {entry['model']} {entry['backend']} "
            f"{entry.get('precision', 'fp16')} 640x480: "
            f"{entry['fps']:.1f} frames/s, {entry['tflops']:.1f} TFLOP/s{share}, "
            f"VRAM peak {entry['vram_peak_mb']:.0f} MB"
        )
    for entry in results.get("peak_rss_1080p", []):
        print(
            f"peak RSS 1080p {entry['model']} (budget {entry['memory_budget_mb']} MB, "
            f"tile {entry['tile'] or 'none'}): {entry['peak_rss_mb']:.0f} MB"
        )
