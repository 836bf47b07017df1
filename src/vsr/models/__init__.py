"""Model registry and loaders: one module per weight source (ncnn, download), spandrel builds."""

from vsr.models.registry import (
    DEFAULT_MODEL,
    REGISTRY,
    ModelSpec,
    format_models,
    list_models,
    load_descriptor,
    load_model,
    open_model,
    resolve_model,
)

__all__ = [
    "DEFAULT_MODEL",
    "REGISTRY",
    "ModelSpec",
    "format_models",
    "list_models",
    "load_descriptor",
    "load_model",
    "open_model",
    "resolve_model",
]
