"""`vsr upscale` on a still image: the same model, no workflow (handy for quality checks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from vsr.errors import VsrError
from vsr.util import atomic_output


def upscale_image(source: Path, output: Path, *, model: str | None, video_type: str) -> Path:
    from vsr.infer.upscaler import Upscaler
    from vsr.models.registry import DEFAULT_MODEL

    try:
        image = Image.open(source)
        image.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise VsrError(source, f"not a readable image ({exc})") from None
    alpha = image.getchannel("A") if image.mode in {"RGBA", "LA"} else None
    rgb = np.asarray(image.convert("RGB"))
    upscaler = Upscaler(model or DEFAULT_MODEL[video_type])
    result = Image.fromarray(upscaler.upscale(rgb[None])[0])
    if alpha is not None:  # the model sees colour only; alpha is resized smoothly beside it
        result.putalpha(alpha.resize(result.size, Image.Resampling.BICUBIC))
    with atomic_output(output) as tmp:
        result.save(tmp, format=Image.registered_extensions().get(output.suffix.lower(), "PNG"))
    return output
