"""Model families and loading: one module per family (the catalogue lists them), one per weight
source (ncnn, download), spandrel builds. Names below load on first use, so importing one
module of the package does not import the others."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DEFAULT_MODEL": "vsr.models.registry",
    "REGISTRY": "vsr.models.registry",
    "format_models": "vsr.models.registry",
    "list_models": "vsr.models.registry",
    "load_descriptor": "vsr.models.registry",
    "load_model": "vsr.models.registry",
    "open_model": "vsr.models.registry",
    "resolve_model": "vsr.models.registry",
    "ModelSpec": "vsr.models.spec",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'vsr.models' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
