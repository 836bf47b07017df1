"""The `swin2sr` family's network: a transformers Swin2SR model wrapped as a spandrel
descriptor, so the `Upscaler` runs it like any other model: input padded (reflect) to a multiple
of the attention window, which Swin2SR needs, and the output cropped back to 4x the input.
transformers is imported only when a checkpoint is loaded (it costs seconds to import)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import spandrel
import torch

from vsr.errors import VsrError


def load_pretrained(source: str) -> torch.nn.Module:
    """A Swin2SRForImageSuperResolution from a checkpoint folder or a hub id (cache first)."""
    from transformers import Swin2SRForImageSuperResolution

    folder = Path(source).expanduser()
    if folder.is_dir():  # its config.json already checked by the family module
        return _from_pretrained(Swin2SRForImageSuperResolution, str(folder), source, True)
    if folder.suffix or source.count("/") != 1:
        raise VsrError(source, "not a folder nor a Hugging Face hub id (owner/name)")
    try:  # the local Hugging Face cache first: no network when the checkpoint is there
        return _from_pretrained(Swin2SRForImageSuperResolution, source, source, True)
    except VsrError:
        if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
            raise VsrError(
                source, "not in the Hugging Face cache and HF_HUB_OFFLINE is set"
            ) from None
    return _from_pretrained(Swin2SRForImageSuperResolution, source, source, False)


def _from_pretrained(cls: Any, where: str, label: str, local_only: bool) -> torch.nn.Module:
    try:
        model = cls.from_pretrained(where, local_files_only=local_only)
    except (OSError, ValueError) as error:
        reason = " ".join(str(error).split())[:200]
        raise VsrError(label, f"cannot load the Swin2SR checkpoint ({reason})") from None
    return model.eval()


class Swin2SRImage(torch.nn.Module):
    """(N,3,H,W) in [0,1] -> (N,3,sH,sW): the transformers model's reconstruction."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=image, return_dict=True).reconstruction


class _Swin2SRArch(spandrel.Architecture[Swin2SRImage]):
    """Names the architecture for spandrel; weights never come through spandrel's detection."""

    def __init__(self) -> None:
        super().__init__(id="Swin2SR-transformers", name="Swin2SR", detect=lambda _: False)

    def load(self, state_dict: Any) -> spandrel.ImageModelDescriptor[Swin2SRImage]:
        raise NotImplementedError("built from transformers checkpoints only")


def build_descriptor(model: torch.nn.Module) -> spandrel.ImageModelDescriptor:
    config = model.config
    if config.num_channels != 3 or getattr(config, "num_channels_out", 3) != 3:
        raise VsrError(config.name_or_path, "model must map RGB to RGB (3 channels in and out)")
    wrapped = Swin2SRImage(model).eval()
    return spandrel.ImageModelDescriptor(
        wrapped,
        wrapped.state_dict(),
        architecture=_Swin2SRArch(),
        purpose="SR",
        tags=[f"{config.embed_dim}dim", f"w{config.window_size}", config.upsampler],
        # As spandrel's own Swin2SR: attention overflows in fp16 (precision auto takes bf16).
        supports_half=False,
        supports_bfloat16=True,
        scale=config.upscale,
        input_channels=3,
        output_channels=3,
        # Shifted-window attention needs H and W multiples of the window: spandrel pads
        # (reflect, then replicate for tiny inputs) and crops the output back.
        size_requirements=spandrel.SizeRequirements(multiple_of=config.window_size),
    )
