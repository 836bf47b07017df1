"""The workflow config, checked before anything runs: one line naming the key and the problem."""

from __future__ import annotations

from typing import Any

import yaml

from vsr import WORKFLOW_ROOT
from vsr.defaults import defaults, schema
from vsr.errors import VsrError


def parse_value(text: str) -> Any:
    """A `--config KEY=VALUE` value, typed as Snakemake types it (int, float, bool, YAML, str)."""
    for parser in (int, float):
        try:
            return parser(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_items(items: list[str]) -> dict[str, str]:
    """`KEY=VALUE` strings (as given to --config) as a dict of strings; a bad item is refused."""
    parsed: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise VsrError(f"--config {item}", "expected KEY=VALUE")
        parsed[key.strip()] = value
    return parsed


def _where(error) -> str:
    keys = [str(k) for k in error.absolute_path]
    return "config " + ".".join(keys) if keys else "config"


def check_config(config: dict[str, Any]) -> None:
    """Validate against config/schema.yaml; the first error as one VsrError naming the key."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    error = errors[0]
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        where = ".".join([*(str(k) for k in error.absolute_path), extra[0]])
        raise VsrError(f"config {where}", f"unknown key (known: {', '.join(allowed)})")
    raise VsrError(_where(error), " ".join(error.message.split()))


def effective_config(extra: dict[str, str]) -> dict[str, Any]:
    """The schema's defaults, the bundled config and `extra` (KEY=VALUE strings) laid over each
    other, as Snakemake does."""
    config = defaults()
    bundled = yaml.safe_load((WORKFLOW_ROOT / "config" / "config.yaml").read_text()) or {}
    for key, value in [*bundled.items(), *((k, parse_value(v)) for k, v in extra.items())]:
        _merge(config, key, value)
    return config


def _merge(config: dict[str, Any], key: str, value: Any) -> None:
    """Snakemake merges a mapping given for a section into that section, key by key."""
    if isinstance(value, dict) and isinstance(config.get(key), dict):
        for inner, item in value.items():
            _merge(config[key], inner, item)
    else:
        config[key] = value
