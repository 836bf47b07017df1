"""How `make test` shares tests between its xdist workers.

Tests that share a machine-wide resource run on one worker, one after the other: the Slurm
cluster (one slurm.conf per machine) and the AWS stand-ins (fixed ports). Every other test stays
with its module, so the module's fixtures are built once; the tests of the session's one batch
run (the `batch` fixture) stay together. The Slurm tests go first: they are the longest unit, and
mostly wait on jobs, so every other unit runs beside them on the other workers.

A scheduler of our own rather than `xdist_group` marks: pytest 9.2 derives node ids in a way
that xdist's group suffix (which `--dist loadgroup` reads) no longer reaches.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from xdist.scheduler import LoadScopeScheduling

SHARED_RESOURCES = {
    "slurm": ("helpers.slurm", "slurm_cluster"),
    "aws": ("helpers.aws", "helpers.ui"),
}
FIRST = ("slurm", "aws", "batch")
_TEST_PARAMETERS = re.compile(r"def test_\w+\(([^)]*)\)", re.DOTALL)


@cache
def unit_of(module: Path) -> str:
    """The work unit of every test in this module."""
    text = module.read_text()
    for name, marks in SHARED_RESOURCES.items():
        if any(mark in text for mark in marks):
            return name
    for parameters in _TEST_PARAMETERS.findall(text):
        if "batch" in (p.strip().split(":")[0] for p in parameters.split(",")):
            return "batch"
    return str(module)


class ResourceScheduling(LoadScopeScheduling):
    """`--dist loadscope` with the units above, the longest first."""

    def _split_scope(self, nodeid: str) -> str:
        return unit_of(self.config.rootpath / nodeid.split("::", 1)[0])

    def _assign_work_unit(self, node) -> None:
        def rank(unit: str) -> tuple[int, int]:
            order = FIRST.index(unit) if unit in FIRST else len(FIRST)
            return order, -len(self.workqueue[unit])

        self.workqueue.move_to_end(min(self.workqueue, key=rank), last=False)
        super()._assign_work_unit(node)
