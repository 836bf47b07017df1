"""The `bicubic` family's module: bicubic interpolation as a spandrel descriptor (torch)."""

from __future__ import annotations

from typing import Any

import spandrel
import torch
import torch.nn.functional as F

SCALE = 4
ARCH_ID = "bicubic"


class Bicubic(torch.nn.Module):
    """(N,3,H,W) in [0,1] -> (N,3,4H,4W) in [0,1]: torch's bicubic (a = -0.75), clamped."""

    def __init__(self, scale: int = SCALE):
        super().__init__()
        self.scale = scale

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        upscaled = F.interpolate(
            image, scale_factor=self.scale, mode="bicubic", align_corners=False
        )
        return upscaled.clamp_(0.0, 1.0)


class _BicubicArch(spandrel.Architecture[Bicubic]):
    """Names the architecture for spandrel; there are no weights to detect."""

    def __init__(self) -> None:
        super().__init__(id=ARCH_ID, name="bicubic", detect=lambda _: False)

    def load(self, state_dict: Any) -> spandrel.ImageModelDescriptor[Bicubic]:
        return build_descriptor()


def build_descriptor(scale: int = SCALE) -> spandrel.ImageModelDescriptor:
    module = Bicubic(scale).eval()
    return spandrel.ImageModelDescriptor(
        module,
        {},
        architecture=_BicubicArch(),
        purpose="SR",
        tags=[f"x{scale}"],
        supports_half=True,
        supports_bfloat16=True,
        scale=scale,
        input_channels=3,
        output_channels=3,
    )
