"""The config's defaults, read from their one owner: the `default`s of `config/schema.yaml`.

Snakemake fills a run's config from the same schema (`validate` sets defaults), so the steps,
`Upscaler`, the picture plan and `vsr upscale` read a setting's default here and a direct caller
gets what a run gets. A package installed without its checkout finds the schema through
VSR_WORKFLOW_ROOT (see `vsr.WORKFLOW_ROOT`).
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import yaml

from vsr import WORKFLOW_ROOT
from vsr.errors import VsrError

SCHEMA = WORKFLOW_ROOT / "config" / "schema.yaml"


@cache
def schema() -> dict[str, Any]:
    try:
        return yaml.safe_load(SCHEMA.read_text())
    except OSError as error:
        problem = f"config schema unreadable ({error.strerror}); set VSR_WORKFLOW_ROOT"
        raise VsrError(SCHEMA, problem) from None


def _defaults_of(node: dict[str, Any]) -> Any:
    properties = node.get("properties")
    if properties is None:
        return copy.deepcopy(node.get("default"))
    found = copy.deepcopy(node.get("default")) or {}
    for key, sub in properties.items():
        value = _defaults_of(sub)
        if value is not None or "default" in sub:
            found[key] = value
    return found


def defaults() -> dict[str, Any]:
    """The whole config as its defaults give it, sections as nested dicts (a fresh copy)."""
    return _defaults_of(schema())


def section(name: str) -> dict[str, Any]:
    """One section's defaults, e.g. `section("upscale")["memory_budget_mb"]`."""
    return defaults()[name]
