"""`bicubic`: bicubic interpolation as a model, with no weights and no network.

It runs through the same pipeline as the learned models (shards, upscale job, encode), so it is
the floor for measuring everything outside the model, and a fast preview of a whole run. The
torch module is `bicubic_net.py`, imported only when the model is built.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from vsr.models.spec import ModelSpec

if TYPE_CHECKING:
    import spandrel


def load(spec: ModelSpec) -> spandrel.ImageModelDescriptor:
    from vsr.models import bicubic_net

    return bicubic_net.build_descriptor(spec.scale)


FAMILIES = (
    ModelSpec(
        name="bicubic",
        scale=4,
        arch="bicubic",
        arch_id="bicubic",
        licence="none (no weights)",
        source="torch bicubic interpolation: the overhead floor and a fast preview",
        params=0,
        loader=load,
        scales=(2, 3, 4),
        # 400 B per input pixel at x4, all of it at the output's size
        bytes_per_output_pixel=25,
        # torch bicubic, the upscale step's frame loop: ~35 frames/s at 320x180
        cost=MappingProxyType({"cpu": 2.0}),
    ),
)
