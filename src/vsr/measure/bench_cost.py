"""What a model costs regardless of the machine's load: FLOPs per frame and peak memory."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from vsr.util import peak_rss_mb


def model_flops(model: str, height: int, width: int) -> float:
    """FLOPs of one forward pass on one frame (a multiply-add counts 2), by torch's counter on
    the meta device: no arithmetic is done, so heavy models at large sizes cost nothing."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from vsr.models.registry import load_model

    net = load_model(model).eval().to("meta")
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        net(torch.zeros(1, 3, height, width, device="meta"))
    return float(counter.get_total_flops())


def peak_rss_1080p(model: str, threads: int, budget_mb: int) -> dict[str, Any]:
    """Peak RSS of upscaling one 1920x1080 photo frame, tiled as the memory budget decides."""
    from skimage import data, transform

    from vsr.infer.upscaler import Upscaler

    photo = transform.resize(data.astronaut(), (1080, 1920), preserve_range=True)
    frame = photo.astype(np.uint8)[None]
    upscaler = Upscaler(model, threads=threads, backend="torch", memory_budget_mb=budget_mb)
    loaded_mb = peak_rss_mb()
    start = time.perf_counter()
    upscaler.upscale(frame)
    tile, per_call = upscaler.plan(1080, 1920)
    return {
        "seconds": time.perf_counter() - start,
        "memory_budget_mb": budget_mb,
        "tile": tile,
        "per_call": per_call,
        "peak_rss_after_load_mb": loaded_mb,
        "peak_rss_mb": peak_rss_mb(),
    }
