"""Swin2SR (Marcos V. Conde et al., ECCVW 2022) through Hugging Face transformers.

A model is named `swin2sr` (the default hub checkpoint), `swin2sr:<hub id>` or
`swin2sr:<folder>`, or given as a folder written by `save_pretrained` (its config.json says
`"model_type": "swin2sr"`). No Swin2SR weights ship offline: gpu-check runs a small random
checkpoint it writes itself. The network and transformers load only when a model is built
(`swin2sr_net.py`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from vsr.errors import VsrError
from vsr.models.spec import ModelSpec

if TYPE_CHECKING:
    import spandrel

PREFIX = "swin2sr:"
DEFAULT_HUB_ID = "caidas/swin2SR-classical-sr-x4-64"
MODEL_TYPE = "swin2sr"


def is_reference(name: str) -> bool:
    """True for `swin2sr:...` names and for folders holding a Swin2SR transformers checkpoint."""
    return name.startswith(PREFIX) or _config_model_type(Path(name).expanduser()) == MODEL_TYPE


def _config_model_type(folder: Path) -> str | None:
    config = folder / "config.json"
    try:
        return json.loads(config.read_text()).get("model_type") if config.is_file() else None
    except (OSError, ValueError, AttributeError):
        return None


def _descriptor(source: str) -> spandrel.ImageModelDescriptor:
    from vsr.models import swin2sr_net

    folder = Path(source).expanduser()
    if folder.is_dir() and _config_model_type(folder) != MODEL_TYPE:
        raise VsrError(folder, "not a Swin2SR checkpoint folder (config.json model_type)")
    return swin2sr_net.build_descriptor(swin2sr_net.load_pretrained(source))


def load(spec: ModelSpec) -> spandrel.ImageModelDescriptor:
    """Loader of the family entry `swin2sr`: the default hub checkpoint."""
    return _descriptor(DEFAULT_HUB_ID)


def open_reference(name: str) -> tuple[ModelSpec, spandrel.ImageModelDescriptor]:
    source = name.removeprefix(PREFIX)
    if not source:
        raise VsrError(name, f"empty Swin2SR reference (use {PREFIX}<hub id or folder>)")
    descriptor = _descriptor(source)
    family = FAMILIES[0]
    spec = ModelSpec(
        name=name,
        scale=descriptor.scale,
        arch=family.arch,
        arch_id=family.arch_id,
        licence="see the checkpoint's source",
        source=source,
        params=sum(p.numel() for p in descriptor.model.parameters()),
        path=Path(source) if Path(source).is_dir() else None,
        precisions=family.precisions,
        bytes_per_output_pixel=family.bytes_per_output_pixel,
        synthesises_detail=None,
    )
    return spec, descriptor


def write_tiny_checkpoint(folder: Path) -> str:
    """A small random Swin2SR x4 (window 8) saved with `save_pretrained`: gpu-check's input."""
    import torch
    from transformers import Swin2SRConfig, Swin2SRForImageSuperResolution

    torch.manual_seed(0)
    config = Swin2SRConfig(embed_dim=12, depths=[1], num_heads=[2], window_size=8, upscale=4)
    folder.mkdir(parents=True, exist_ok=True)
    Swin2SRForImageSuperResolution(config).eval().save_pretrained(folder)
    return str(folder)


FAMILIES = (
    ModelSpec(
        name="swin2sr",
        scale=4,
        arch="Swin2SR",
        arch_id="Swin2SR-transformers",
        licence="Apache-2.0 (code); weights: per checkpoint",
        source=(
            "Swin2SR, Marcos V. Conde et al., ECCVW 2022, via transformers; "
            f"Hugging Face {DEFAULT_HUB_ID} (or {PREFIX}<hub id|folder>)"
        ),
        loader=load,
        note=f"a {PREFIX}<hub id|folder> checkpoint has its own scale",
        # Attention overflows in fp16 (as spandrel's own Swin2SR).
        precisions=("fp32", "bf16"),
        # 22,100 B per input pixel at x4: peak-RSS growth of one CPU fp32 pass of the default
        # checkpoint's network (embed 180, 6x6 blocks, window 8), 192x128 input
        bytes_per_output_pixel=1_380,
        gpu_check=write_tiny_checkpoint,
    ),
)
