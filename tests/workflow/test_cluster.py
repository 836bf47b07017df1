"""Node shapes from sinfo, requests sized to them, and the one-line error for a request no node
can run (no cluster needed: sinfo's output is given)."""

from pathlib import Path

import pytest

from vsr.workflow.cluster import (
    ClusterMismatch,
    Node,
    gpu_count,
    install_profile,
    parse_sinfo,
    profile_values,
)

SINFO = """gpu|4|15500|gpu:a10g:1(S:0)
gpu|4|15500|gpu:a10g:1(S:0)
cpu*|8|15000|(null)
cpu|2|3000|(null)
"""


def test_gpu_count_reads_typed_and_untyped_gres():
    assert gpu_count("gpu:1") == 1
    assert gpu_count("gpu:a10g:4(S:0-1)") == 4
    assert gpu_count("gpu:2,shard:8") == 2
    assert gpu_count("(null)") == 0


def test_parse_sinfo_keeps_each_node_shape_once_per_partition():
    shapes = parse_sinfo(SINFO.replace("cpu*", "cpu"))
    assert shapes["gpu"] == [Node(4, 15500, 1)]
    assert shapes["cpu"] == [Node(8, 15000, 0), Node(2, 3000, 0)]


def test_requests_follow_the_learned_nodes_and_env_overrides_them():
    shapes = {"gpu": [Node(2, 8000, 1)], "cpu": [Node(2, 8000, 1)]}
    values = profile_values({}, shapes)
    assert values.threads == {"probe": 1, "split": 2, "upscale": 2, "encode": 1, "assemble": 2}
    assert values.gpu_node.mem_mb == 8000
    override = profile_values({"VSR_SLURM_CPU_NODE_CPUS": "1"}, shapes)
    assert override.threads["split"] == 1


def test_small_nodes_cap_memory_instead_of_failing():
    shapes = {"gpu": [Node(2, 4000, 1)], "cpu": [Node(2, 4000, 0)]}
    upscale = next(r for r in profile_values({}, shapes).requests() if r.rule == "upscale")
    assert upscale.mem_mb == 4000


def test_a_request_no_node_can_run_is_one_line_naming_rule_request_and_offer():
    shapes = {"gpu": [Node(2, 8000, 1)], "cpu": [Node(2, 8000, 0)]}
    with pytest.raises(ClusterMismatch) as error:
        profile_values({"VSR_SLURM_GPU_NODE_CPUS": "8"}, shapes)
    assert str(error.value) == (
        "rule upscale asks for 8 CPUs, 6000 MB, 1 GPU on partition gpu; "
        "its largest node offers 2 CPUs, 8000 MB, 1 GPU"
    )
    with pytest.raises(ClusterMismatch, match="partition gpus, which this cluster does not"):
        profile_values({"VSR_SLURM_GPU_PARTITION": "gpus"}, shapes)


def test_without_sinfo_the_defaults_are_the_parallelcluster_queues():
    values = profile_values({"VSR_SLURM_DISCOVER": "0"})
    assert not values.learned
    assert values.threads["upscale"] == 4 and values.threads["encode"] == 4


def test_install_profile_links_the_folder_and_leaves_a_real_one_alone(tmp_path: Path):
    source = tmp_path / "profiles" / "slurm"
    source.mkdir(parents=True)
    (source / "config.yaml").write_text("executor: slurm\n")
    dest = install_profile(source, tmp_path / "xdg" / "snakemake" / "slurm")
    assert (dest / "config.yaml").read_text() == "executor: slurm\n" and dest.is_symlink()
    assert install_profile(source, dest) == dest  # again: still the link
    real = tmp_path / "real" / "slurm"
    real.mkdir(parents=True)
    install_profile(source, real)
    assert not real.is_symlink()


def test_one_upscale_job_per_gpu_with_its_share_of_the_node():
    for gpus, cpus in ((1, 4), (4, 48), (8, 96)):
        shapes = {"gpu": [Node(cpus, 192000, gpus)], "cpu": [Node(8, 15000, 0)]}
        values = profile_values({}, shapes)
        assert values.jobs_per_gpu_node == gpus
        assert values.threads["upscale"] == cpus // gpus
        upscale = next(r for r in values.requests() if r.rule == "upscale")
        assert upscale.gpus == 1 and upscale.fits(Node(cpus // gpus, 192000 // gpus, 1))
    shapes = {"gpu": [Node(48, 192000, 4)], "cpu": [Node(8, 15000, 0)]}
    two = profile_values({"VSR_SLURM_GPUS_PER_JOB": "2"}, shapes)
    assert (two.jobs_per_gpu_node, two.threads["upscale"]) == (2, 24)


def test_mixed_gpu_nodes_size_upscale_jobs_for_the_smallest_share():
    # One 12-CPU and two 4-CPU single-GPU nodes: a 12-CPU job would only ever run on the first.
    shapes = {
        "gpu": [Node(12, 60000, 1), Node(4, 15000, 1), Node(4, 15000, 1)],
        "cpu": [Node(8, 15000, 0)],
    }
    values = profile_values({}, shapes)
    upscale = next(r for r in values.requests() if r.rule == "upscale")
    assert values.threads["upscale"] == 4 and upscale.cpus == 4
    assert all(upscale.fits(node) for node in shapes["gpu"])
    # A 4-GPU node with 48 CPUs beside a 1-GPU node with 8: 12 and 8 per job.
    shapes["gpu"] = [Node(48, 192000, 4), Node(8, 30000, 1)]
    assert profile_values({}, shapes).threads["upscale"] == 8
    # Nodes without enough GPUs for one job do not count; an explicit setting wins.
    shapes["gpu"] = [Node(48, 192000, 4), Node(2, 8000, 0)]
    assert profile_values({}, shapes).threads["upscale"] == 12
    assert profile_values({"VSR_SLURM_GPU_NODE_CPUS": "6"}, shapes).threads["upscale"] == 1
