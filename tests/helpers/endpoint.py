"""A client of the inference endpoint, as a caller of its HTTP API would write it."""

from __future__ import annotations

import io
import urllib.error
import urllib.request

import numpy as np
from PIL import Image

from vsr.apps.endpoint import encode_image


def upscale_remote(url: str, pixels: np.ndarray, timeout: float = 300.0) -> np.ndarray:
    """Send one (H,W,3) uint8 frame to an endpoint's /invocations; return the upscaled frame."""
    body, content_type = encode_image(pixels, "image/png")
    request = urllib.request.Request(
        url.rstrip("/") + "/invocations",
        data=body,
        method="POST",
        headers={"Content-Type": content_type, "Accept": "image/png"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = response.read()
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")
        raise RuntimeError(f"{url}: endpoint answered {error.code}: {detail}") from error
    return np.asarray(Image.open(io.BytesIO(answer)).convert("RGB"), dtype=np.uint8)
