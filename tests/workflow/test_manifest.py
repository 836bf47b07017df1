"""The manifest's schema states the same facts as the code that reads the manifest."""

from __future__ import annotations

import re

import yaml
from helpers.workflow import write_manifest
from snakemake.utils import validate

from vsr import WORKFLOW_ROOT
from vsr.names import VIDEO_TYPES
from vsr.workflow.manifest import ID_PATTERN, load_manifest

SCHEMA = WORKFLOW_ROOT / "config" / "manifest.schema.yaml"


def test_schema_matches_the_reader():
    properties = yaml.safe_load(SCHEMA.read_text())["properties"]
    assert tuple(properties["type"]["enum"]) == VIDEO_TYPES
    assert properties["id"]["pattern"] == ID_PATTERN.pattern


def test_a_loaded_manifest_passes_the_schema(tmp_path):
    source = tmp_path / "v.mp4"
    source.write_bytes(b"not empty")
    manifest = write_manifest(tmp_path / "m.tsv", [("v1", str(source), "anime")])
    table = load_manifest(manifest, {})
    validate(table, str(SCHEMA))
    assert table.loc["v1", "model"] == "realesr-animevideov3"
    assert re.fullmatch(ID_PATTERN, "v1")
