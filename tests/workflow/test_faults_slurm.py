"""Faults on a real 4-node Slurm cluster (slurmd per network namespace, one shared filesystem).

Every scenario runs short titles (bicubic, two shards each) through `--profile slurm` and
compares the finals with a fault-free run of the same titles, byte for byte. The scenarios are
`vsr.measure.faults`' (also `make bench-faults`). A lost node is part of `make test`; the others
are marked `faults` (`make test-faults`): each costs a workflow run or two (1-3 minutes here).
A requeued job waits until its credential has expired before it may start again (the test
cluster sets 30 s; Slurm's default is two minutes).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.slurm import cluster_session

from vsr.measure import faults
from vsr.measure.fault_runs import finals, make_titles, start_batch

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces and slurm.conf need root"),
    pytest.mark.timeout(900),
]


@pytest.fixture(scope="module", autouse=True)
def four_nodes() -> Iterator[None]:
    yield from cluster_session(nodes=4)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="module")
def reference(folder: Path) -> faults.Reference:
    return faults.reference(folder)


@pytest.fixture(scope="module")
def one_title(folder: Path) -> faults.Reference:
    """`make test`'s share runs one title: two GPU jobs, one on each GPU node."""
    return faults.reference(folder, ["ta"])


def assert_recovered(outcome: faults.Outcome) -> None:
    assert (outcome.lost, outcome.differing) == (0, 0), outcome


def test_a_lost_node_goes_down_and_its_job_finishes_on_another_node(
    folder: Path, one_title: faults.Reference
) -> None:
    outcome = faults.node_lost(folder, one_title)
    assert_recovered(outcome)
    lost = outcome.notes["node"]
    assert str(lost).startswith("vsr-gpu"), outcome.notes
    assert outcome.notes["down_after_s"] < 60, outcome.notes
    # Requeued (same job id, Restarts > 0) or retried (a new job): it ran on the other GPU node.
    others = [n for n in outcome.notes["ran_again_on"] if n != lost]
    assert others and all(n.startswith("vsr-gpu") for n in others), outcome.notes
    assert outcome.notes["restarts"] >= 1, outcome.notes


@pytest.mark.faults
def test_a_killed_head_node_run_resumes_without_redoing_finished_shards(
    folder: Path, reference: faults.Reference
) -> None:
    outcome = faults.head_killed(folder, reference)
    assert_recovered(outcome)
    assert outcome.notes["finished_before_kill"], outcome.notes
    assert outcome.notes["redone"] == [], outcome.notes


@pytest.mark.faults
def test_a_run_outlives_a_controller_restart(folder: Path, reference: faults.Reference) -> None:
    assert_recovered(faults.controller_restart(folder, reference))


@pytest.mark.faults
def test_a_run_outlives_a_controller_crash(folder: Path, reference: faults.Reference) -> None:
    assert_recovered(faults.controller_restart(folder, reference, crash=True))


@pytest.mark.faults
def test_two_batches_share_a_results_folder_without_touching_each_others_titles(
    folder: Path, reference: faults.Reference
) -> None:
    outcome = faults.two_batches(folder, reference)
    assert_recovered(outcome)
    assert outcome.notes["chunks_touching_other_titles"] == {"ta": [], "tb": []}, outcome.notes
    nodes = outcome.notes["nodes"]
    assert len({n for used in nodes.values() for n in used}) >= 2, nodes


@pytest.mark.faults
def test_a_full_disk_for_one_title_says_so_publishes_nothing_and_a_rerun_completes(
    folder: Path, reference: faults.Reference
) -> None:
    results = folder / "disk-full" / "results"
    title = results / "ta"
    title.mkdir(parents=True)
    mount = ["mount", "-t", "tmpfs", "-o", "size=48k", "vsr-disk-full", str(title)]
    subprocess.run(mount, check=True, timeout=30)
    try:
        manifest = make_titles(folder / "titles", faults.TITLES)
        first = start_batch(manifest, results, folder / "disk-full" / "first.log")
        assert first.wait() != 0
        output = first.text()
        full = [line for line in output.splitlines() if "No space left on device" in line]
        assert len(full) == 1 and full[0].startswith("ta:"), output[-3000:]
        made = finals(results, faults.TITLES)
        assert made["ta"] is None and not list(title.glob("final*")), "a partial final"
        assert made["tb"] is not None and made["tb"].read_bytes() == reference.finals["tb"]

        remount = ["mount", "-o", "remount,size=64m", str(title)]
        subprocess.run(remount, check=True, timeout=30)  # space freed
        second = start_batch(manifest, results, folder / "disk-full" / "second.log")
        assert second.wait() == 0, second.text()[-3000:]
        again = finals(results, ["ta"])["ta"]
        assert again is not None and again.read_bytes() == reference.finals["ta"]
    finally:
        subprocess.run(["umount", "-l", str(title)], check=False, timeout=30)
