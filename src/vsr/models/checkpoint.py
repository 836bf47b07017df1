"""Loading one checkpoint file through spandrel, with the checks every model must pass."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from vsr.errors import VsrError

if TYPE_CHECKING:
    import spandrel


def load_checked(path: Path, label: str) -> spandrel.ImageModelDescriptor:
    """spandrel's descriptor of `path` in eval mode; VsrError (naming `label` or the file) for a
    missing file, an unusable checkpoint or a model that is not RGB image to RGB image."""
    import spandrel

    if not path.is_file():
        raise VsrError(path, "model file not found")
    try:
        descriptor = spandrel.ModelLoader().load_from_file(path)
    except Exception as error:  # spandrel raises many types for unusable checkpoints
        raise VsrError(path, f"not a supported model checkpoint ({error})") from error
    if not isinstance(descriptor, spandrel.ImageModelDescriptor):
        raise VsrError(label, "not an image-to-image model")
    if descriptor.input_channels != 3 or descriptor.output_channels != 3:
        raise VsrError(label, "model must map RGB to RGB (3 channels in and out)")
    return descriptor.eval()
