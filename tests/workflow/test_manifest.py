"""The manifest's schema states the same facts as the code that reads the manifest."""

from __future__ import annotations

import re

import pytest
import yaml
from helpers.workflow import write_manifest
from snakemake.utils import validate

from vsr import WORKFLOW_ROOT
from vsr.errors import VsrError
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


def test_a_scale_the_models_family_lacks_fails_before_work(tmp_path):
    source = tmp_path / "v.mp4"
    source.write_bytes(b"not empty")
    manifest = write_manifest(tmp_path / "m.tsv", [("v1", str(source), "real")])
    assert load_manifest(manifest, {}, 4).loc["v1", "model"] == "realesrgan-x4plus"
    assert load_manifest(manifest, {"real": "dat-light"}, 2).loc["v1", "model"] == "dat-light"
    with pytest.raises(VsrError) as caught:
        load_manifest(manifest, {}, 2)
    assert str(caught.value) == (
        f"{manifest}: row 2: model realesrgan-x4plus has no x2 model (it has x4); set upscale.scale"
    )
    with pytest.raises(VsrError, match="scale '5': use auto|2|3|4"):
        load_manifest(manifest, {}, 5)
