"""The catalogue of model families: which modules hold them, and looking one up by name.

Each module listed exports `FAMILIES`, a tuple of `ModelSpec` (see `spec.py`), and may export
`is_reference(name)` and `open_reference(name)` for checkpoints of its own naming (`swin2sr:...`).
Adding a family is one module listed here (or `register`ed, for one that lives outside the
package), its test and its README row; everything else (the registry, memory planning, the
plan's estimate, provenance, gpu-check, `vsr models`) asks the catalogue.
"""

from __future__ import annotations

import importlib
import re
from types import ModuleType

from vsr.models.spec import ModelSpec

MODULES = (
    "vsr.models.realesrgan",
    "vsr.models.realcugan",
    "vsr.models.dat",
    "vsr.models.swin2sr",
    "vsr.models.bicubic",
)
# `<family>-x<scale>`: one scale of a family, pinned.
SCALED_NAME = re.compile(r"^(?P<family>.+)-x(?P<scale>[0-9])$")

_FAMILIES: dict[str, ModelSpec] = {}
_REFERENCES: dict[str, ModuleType] = {}  # module name -> a module that opens references


def register(module: ModuleType | str) -> tuple[ModelSpec, ...]:
    """Add the families a module exports (`FAMILIES`); a name already taken is refused."""
    if isinstance(module, str):
        module = importlib.import_module(module)
    added = tuple(module.FAMILIES)
    for spec in added:
        if not isinstance(spec, ModelSpec):
            raise TypeError(f"{module.__name__}.FAMILIES holds {spec!r}, not a ModelSpec")
        if _FAMILIES.get(spec.name, spec) is not spec:
            raise ValueError(f"model family {spec.name!r} is registered twice")
        _FAMILIES[spec.name] = spec
    if hasattr(module, "is_reference") and hasattr(module, "open_reference"):
        _REFERENCES[module.__name__] = module
    return added


def unregister(module: ModuleType) -> None:
    for spec in module.FAMILIES:
        _FAMILIES.pop(spec.name, None)
    _REFERENCES.pop(module.__name__, None)


def families() -> dict[str, ModelSpec]:
    """Family name -> its spec (at its default scale), in catalogue order."""
    return _FAMILIES


def reference_opener(name: str) -> ModuleType | None:
    """The family module that opens `name` as a checkpoint of its own naming, else None."""
    return next((m for m in _REFERENCES.values() if m.is_reference(name)), None)


def family_of(name: str) -> ModelSpec | None:
    """The family a registry name (`<family>` or `<family>-x<scale>`) belongs to, else None."""
    if name in _FAMILIES:
        return _FAMILIES[name]
    scaled = SCALED_NAME.match(name)
    return _FAMILIES.get(scaled["family"]) if scaled else None


def for_arch(arch_id: str) -> ModelSpec | None:
    """The first family whose network has spandrel architecture id `arch_id`, else None."""
    return next((spec for spec in _FAMILIES.values() if spec.arch_id == arch_id), None)


def default_models() -> dict[str, str]:
    """Video type -> the name of the family that is its default."""
    return {kind: spec.name for spec in _FAMILIES.values() for kind in spec.default_for}


for _module in MODULES:
    register(_module)
