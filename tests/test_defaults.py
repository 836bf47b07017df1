"""Every default has one owner, config/schema.yaml: a direct caller gets what a run gets."""

from __future__ import annotations

import inspect

from snakemake.utils import validate

from vsr.defaults import SCHEMA, defaults, section
from vsr.media.picture import settings_from
from vsr.workflow.config import effective_config


def test_upscaler_defaults_are_the_configs():
    from vsr.infer.upscaler import Upscaler

    parameters = inspect.signature(Upscaler).parameters
    upscale = section("upscale")
    shared = set(parameters) & set(upscale)
    assert {"device", "precision", "batch_size", "tile", "memory_budget_mb", "backend"} <= shared
    assert {name: parameters[name].default for name in shared} == {k: upscale[k] for k in shared}


def test_a_run_is_filled_from_the_same_defaults():
    """Snakemake's `validate` fills a run's config from the schema: the same values as here."""
    config = {"manifest": "m.tsv", "results": "out"}
    validate(config, str(SCHEMA))
    assert config == {"manifest": "m.tsv", "results": "out", **defaults()}
    assert effective_config({}) == {**defaults(), "manifest": "config/manifest.example.tsv",
                                    "results": "results"}  # fmt: skip


def test_picture_settings_default_to_the_schema():
    settings = settings_from({})
    config = defaults()
    assert settings["deinterlace"] == config["deinterlace"]
    assert (settings["aspect"], settings["size"]) == (config["output"]["aspect"], None)
    assert settings_from({"output": {"aspect": "square"}})["aspect"] == "square"


def test_defaults_are_fresh_copies():
    first = defaults()
    first["upscale"]["batch_size"] = 99
    assert section("upscale")["batch_size"] != 99
