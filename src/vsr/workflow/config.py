"""The workflow config, checked before anything runs: one line naming the key and the problem."""

from __future__ import annotations

import json
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


def check_config(config: dict[str, Any]) -> dict[str, Any]:
    """Validate against config/schema.yaml (the first error as one VsrError naming the key), then
    fill in the schema's defaults for every key left out, in place: the one validation a run
    makes, after which every reader trusts the config as it is."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if not errors:
        _fill(config, defaults())
        return config
    error = errors[0]
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        where = ".".join([*(str(k) for k in error.absolute_path), extra[0]])
        raise VsrError(f"config {where}", f"unknown key (known: {', '.join(allowed)})")
    raise VsrError(_where(error), " ".join(error.message.split()))


def _fill(config: dict[str, Any], given: dict[str, Any]) -> None:
    for key, value in given.items():
        if key not in config:
            config[key] = value
        elif isinstance(value, dict) and isinstance(config[key], dict):
            _fill(config[key], value)


def effective_config(extra: dict[str, str]) -> dict[str, Any]:
    """The schema's defaults, the bundled config and `extra` (KEY=VALUE strings; `section.key`
    for one key of a section) laid over each other, as Snakemake does."""
    config = defaults()
    bundled = yaml.safe_load((WORKFLOW_ROOT / "config" / "config.yaml").read_text()) or {}
    for key, value in [*bundled.items(), *((k, parse_value(v)) for k, v in extra.items())]:
        _merge(config, key, value)
    return expand_dotted(config, {k: v for k, v in extra.items() if "." in k})


def expand_dotted(config: dict[str, Any], texts: dict[str, str] | None = None) -> dict[str, Any]:
    """Nest `section.key` entries into their section and type every text value as the schema
    types its key, in place. Snakemake reads a section given on the command line as YAML with
    its BaseLoader (every value a string: `encode={crf: 20}` gives "20"); a value the schema
    wants as a string stays the text given (`texts`)."""
    for dotted in [k for k in config if isinstance(k, str) and "." in k]:
        value = config.pop(dotted)
        *sections, key = dotted.split(".")
        node = config
        for section in sections:
            if not isinstance(node.get(section), dict):
                node[section] = {}
            node = node[section]
        node[key] = (texts or {}).get(dotted, value)
    _type_texts(config, schema())
    return config


def _type_texts(config: dict[str, Any], schema: dict[str, Any]) -> None:
    for key, value in config.items():
        rule = (schema.get("properties") or {}).get(key) or {}
        if isinstance(value, dict) and rule.get("properties"):
            _type_texts(value, rule)
        elif isinstance(value, str):
            config[key] = _from_text(value, rule)


def _from_text(text: str, rule: dict[str, Any]) -> Any:
    kinds = rule.get("type")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
    if not kinds or "string" in kinds:
        return text
    if "null" in kinds and text.lower() in {"null", "none", "~", ""}:
        return None
    if "boolean" in kinds and text.lower() in {"true", "false"}:
        return text.lower() == "true"
    for kind, parser in (("integer", int), ("number", float)):
        if kind in kinds:
            try:
                return parser(text)
            except ValueError:
                pass
    return text


def snakemake_items(extra: dict[str, str]) -> dict[str, str]:
    """KEY=VALUE config for Snakemake's --config, which refuses dotted keys: `output.size=...`
    and `output.aspect=...` become one `output={...}` mapping (typed by the Snakefile)."""
    items: dict[str, str] = {}
    sections: dict[str, dict[str, str]] = {}
    for key, value in extra.items():
        if "." in key:
            section, _, inner = key.partition(".")
            sections.setdefault(section, {})[inner] = value
        else:
            items[key] = value
    for section, values in sections.items():
        if section in items:
            raise VsrError(f"--config {section}", "given both whole and as section.key")
        items[section] = json.dumps(values)
    return items


def _merge(config: dict[str, Any], key: str, value: Any) -> None:
    """Snakemake merges a mapping given for a section into that section, key by key."""
    if isinstance(value, dict) and isinstance(config.get(key), dict):
        for inner, item in value.items():
            _merge(config[key], inner, item)
    else:
        config[key] = value
