"""The list of jobs per shard (vsr.workflow.stages) agrees with the rules that run them."""

from __future__ import annotations

import re

from vsr import WORKFLOW_ROOT
from vsr.defaults import schema
from vsr.names import STAGES
from vsr.workflow.stages import SHARD_STEPS, shard_steps, upscale_rules

RULES = "\n".join(path.read_text() for path in sorted((WORKFLOW_ROOT / "rules").glob("*.smk")))


def rule_body(name: str) -> str:
    found = re.search(rf"^rule {name}:\n(.*?)(?=^\S|\Z)", RULES, re.S | re.M)
    assert found, f"no rule {name}"
    return found.group(1)


def test_each_shard_step_is_a_rule_writing_its_timing_record():
    for steps in SHARD_STEPS.values():
        for step in steps:
            body = rule_body(step.rule)
            assert f'VIDEO.timing("{step.record}-{{shard}}")' in body
            assert step.stage in STAGES


def test_the_designs_are_the_configs_and_both_end_with_the_segment():
    assert set(SHARD_STEPS) == set(schema()["properties"]["intermediate"]["enum"])
    assert shard_steps() == SHARD_STEPS["lossless"]  # the schema's default design
    assert upscale_rules() == {"upscale", "upscale_encode"}
    for steps in SHARD_STEPS.values():
        assert 'VIDEO.segment("{shard}")' in rule_body(steps[-1].rule).split("log:")[0]
