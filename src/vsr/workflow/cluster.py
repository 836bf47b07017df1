"""The Slurm cluster's node shapes, learned when the profile loads, and requests that fit them.

`profiles/slurm/config.yaml` calls `profile_values()`: it asks `sinfo` for every node of the GPU
and CPU partitions (CPUs, memory, GPUs), sizes each rule's threads and memory cap to the largest
node there, and stops the run at once, with one line, when a rule's request fits no node (rather
than leaving the job PENDING for ever). `VSR_SLURM_*` variables override what was learned; without
`sinfo` (a laptop, `--lint`) the defaults are the ParallelCluster queues of `infra/pcluster`.

    python -m vsr.workflow.cluster             # what the profile would ask for, per rule
    python -m vsr.workflow.cluster install-profile   # `--profile slurm` by name
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from vsr import WORKFLOW_ROOT
from vsr.errors import print_error

# ParallelCluster queues that infra/pcluster/generate_config.py writes (g5.xlarge, c6i.2xlarge).
DEFAULT_SHAPES = {"gpu": (4, 15000, 1), "cpu": (8, 15000, 0)}
DEFAULT_MAX_RUNTIME_MIN = 1440
# Memory (MB) each rule asks for at least (the profile adds a share of the input size): a node
# with less cannot run it.
BASE_MEM_MB = {"probe": 1000, "split": 2000, "upscale": 6000, "encode": 3000, "assemble": 2000}
PROFILE_DIR = WORKFLOW_ROOT / "profiles" / "slurm"


@dataclass(frozen=True)
class Node:
    cpus: int
    mem_mb: int
    gpus: int

    def describe(self) -> str:
        gpus = f", {self.gpus} GPU{'s' if self.gpus != 1 else ''}"
        return f"{self.cpus} CPUs, {self.mem_mb} MB{gpus}"


@dataclass(frozen=True)
class Request:
    rule: str
    partition: str
    cpus: int
    mem_mb: int
    gpus: int = 0

    def describe(self) -> str:
        gpus = f", {self.gpus} GPU{'s' if self.gpus != 1 else ''}" if self.gpus else ""
        return f"{self.cpus} CPUs, {self.mem_mb} MB{gpus}"

    def fits(self, node: Node) -> bool:
        return self.cpus <= node.cpus and self.mem_mb <= node.mem_mb and self.gpus <= node.gpus


def gpu_count(gres: str) -> int:
    """GPUs in an sinfo %G field: `gpu:1`, `gpu:a10g:4(S:0)`, `gpu:2,shard:8`, `(null)`."""
    total = 0
    for item in gres.split(","):
        match = re.match(r"gpu(?::[^:(]+)?:(\d+)", item.strip())
        if match:
            total += int(match.group(1))
    return total


def parse_sinfo(text: str) -> dict[str, list[Node]]:
    """Nodes per partition from `sinfo -h -N -o '%R|%c|%m|%G'` lines."""
    shapes: dict[str, list[Node]] = {}
    for line in text.splitlines():
        fields = line.strip().split("|")
        if len(fields) != 4 or not fields[1].strip().isdigit():
            continue
        partition, cpus, mem, gres = (f.strip() for f in fields)
        partition = partition.rstrip("*")  # %P marks the default partition
        mem_mb = int(re.sub(r"\D.*", "", mem) or 0)
        node = Node(int(cpus), mem_mb, gpu_count(gres))
        if node not in shapes.setdefault(partition, []):
            shapes[partition].append(node)
    return shapes


def slurm_output(command: list[str], timeout_s: float = 20) -> str | None:
    """What a Slurm command prints, or None where it is absent, fails or does not answer."""
    if shutil.which(command[0]) is None:
        return None
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None


def discover(partitions: list[str], timeout_s: float = 20) -> dict[str, list[Node]] | None:
    """Node shapes of these partitions, or None where `sinfo` is absent or does not answer."""
    output = slurm_output(
        ["sinfo", "-h", "-N", "-p", ",".join(partitions), "-o", "%R|%c|%m|%G"], timeout_s
    )
    return None if output is None else parse_sinfo(output)


def largest(nodes: list[Node], gpus: int = 0) -> Node | None:
    """The node with the most CPUs (then memory) among those with at least `gpus` GPUs."""
    usable = [n for n in nodes if n.gpus >= gpus] or nodes
    return max(usable, key=lambda n: (n.cpus, n.mem_mb, n.gpus)) if usable else None


@dataclass(frozen=True)
class ProfileValues:
    gpu_partition: str
    cpu_partition: str
    gpus_per_job: int
    gpu_node: Node
    cpu_node: Node
    max_runtime: int
    learned: bool  # True when the node shapes came from the cluster
    shards_per_job: int = 8  # per-shard jobs grouped into one Slurm job
    # Snakemake job groups (VSR_SLURM_GROUP=1). Off by default: Snakemake (9.x) fails with a
    # KeyError in update_ready when a checkpoint of one video finishes while grouped jobs of
    # another are queued (snakemake#4202, #1217), so `vsr batch` turns them on with one title
    # per Snakemake run, where no checkpoint can finish beside a queued group.
    group: bool = False
    # CPUs one upscale job gets on each learned GPU node (its CPUs over the jobs it runs side
    # by side); empty where the shapes are not learned or VSR_SLURM_GPU_NODE_CPUS says.
    gpu_shares: tuple[int, ...] = ()

    @property
    def threads(self) -> dict[str, int]:
        cpu = self.cpu_node.cpus
        return {
            "probe": 1,
            "split": min(2, cpu),
            "upscale": self.upscale_cpus,
            "encode": max(1, cpu // 2),
            "assemble": min(2, cpu),
        }

    @property
    def jobs_per_gpu_node(self) -> int:
        """Upscale jobs one GPU node runs side by side: one per `gpus_per_job` GPUs."""
        return max(1, self.gpu_node.gpus // max(1, self.gpus_per_job))

    @property
    def upscale_cpus(self) -> int:
        """CPUs of one upscale job: its share of a GPU node (decode, the lossless or final
        encode), so a 4- or 8-GPU node (g5.12xlarge, p4d, p5) runs 4 or 8 jobs, not one. In a
        partition of mixed nodes, the smallest share: a job sized for the largest node would
        never start on the others, whose GPUs would sit idle."""
        if self.gpu_shares:
            return max(1, min(self.gpu_shares))
        return max(1, self.gpu_node.cpus // self.jobs_per_gpu_node)

    def requests(self) -> list[Request]:
        out = []
        for rule, threads in self.threads.items():
            on_gpu = rule == "upscale"
            node = self.gpu_node if on_gpu else self.cpu_node
            out.append(
                Request(
                    rule,
                    self.gpu_partition if on_gpu else self.cpu_partition,
                    threads,
                    min(BASE_MEM_MB[rule], node.mem_mb),
                    self.gpus_per_job if on_gpu else 0,
                )
            )
        return out


def _int(env: Mapping[str, str], key: str) -> int | None:
    value = env.get(key, "").strip()
    return int(value) if value else None


def _node(
    env: Mapping[str, str], kind: str, learned: list[Node] | None, gpus: int
) -> tuple[Node, Node | None]:
    """(node the requests are sized for, the largest real node or None when unknown)."""
    real = largest(learned, gpus) if learned else None
    cpus, mem_mb, default_gpus = DEFAULT_SHAPES[kind]
    base = real or Node(cpus, mem_mb, default_gpus if kind == "cpu" else max(gpus, 1))
    sized = Node(
        _int(env, f"VSR_SLURM_{kind.upper()}_NODE_CPUS") or base.cpus,
        _int(env, "VSR_SLURM_MAX_MEM_MB") or base.mem_mb,
        base.gpus,
    )
    return sized, real


def profile_values(
    env: Mapping[str, str] | None = None, shapes: dict[str, list[Node]] | None = None
) -> ProfileValues:
    """What the Slurm profile asks for; raises ClusterMismatch when a rule fits no node."""
    env = os.environ if env is None else env
    gpu_partition = env.get("VSR_SLURM_GPU_PARTITION", "gpu")
    cpu_partition = env.get("VSR_SLURM_CPU_PARTITION", "cpu")
    gpus_per_job = _int(env, "VSR_SLURM_GPUS_PER_JOB") or 1
    if shapes is None and env.get("VSR_SLURM_DISCOVER", "1") != "0":
        shapes = discover([gpu_partition, cpu_partition])
    shapes = shapes or {}
    gpu_node, gpu_real = _node(env, "gpu", shapes.get(gpu_partition), gpus_per_job)
    cpu_node, cpu_real = _node(env, "cpu", shapes.get(cpu_partition), 0)
    values = ProfileValues(
        gpu_partition,
        cpu_partition,
        gpus_per_job,
        gpu_node,
        cpu_node,
        _int(env, "VSR_SLURM_MAX_RUNTIME_MIN") or DEFAULT_MAX_RUNTIME_MIN,
        learned=bool(shapes),
        shards_per_job=_int(env, "VSR_SLURM_SHARDS_PER_JOB") or 8,
        group=env.get("VSR_SLURM_GROUP", "0") == "1",
        gpu_shares=()
        if _int(env, "VSR_SLURM_GPU_NODE_CPUS")
        else gpu_shares(shapes.get(gpu_partition) or [], gpus_per_job),
    )
    if shapes:
        check(values, shapes)
    return values


def gpu_shares(nodes: list[Node], gpus_per_job: int) -> tuple[int, ...]:
    """CPUs per upscale job on each node that holds a job's GPUs: its CPUs over its jobs."""
    return tuple(
        node.cpus // max(1, node.gpus // gpus_per_job)
        for node in nodes
        if node.gpus >= gpus_per_job
    )


class ClusterMismatch(Exception):
    """A rule's request that no node of its partition can ever run."""


def check(values: ProfileValues, shapes: dict[str, list[Node]]) -> None:
    for request in values.requests():
        nodes = shapes.get(request.partition, [])
        if not nodes:
            known = ", ".join(sorted(shapes)) or "none"
            raise ClusterMismatch(
                f"rule {request.rule} asks for partition {request.partition}, "
                f"which this cluster does not have (partitions: {known})"
            )
        if not any(request.fits(node) for node in nodes):
            offer = largest(nodes, request.gpus) or nodes[0]
            raise ClusterMismatch(
                f"rule {request.rule} asks for {request.describe()} on partition "
                f"{request.partition}; its largest node offers {offer.describe()}"
            )


def profile_values_or_exit(env: Mapping[str, str] | None = None) -> ProfileValues:
    """For the profile: a mismatch ends snakemake at once with one line on stderr."""
    try:
        return profile_values(env)
    except ClusterMismatch as error:
        print_error(error)
        raise SystemExit(1) from None


def named_profile_dir(env: Mapping[str, str] | None = None, root: bool | None = None) -> Path:
    """Where `snakemake --profile slurm` looks: /etc/xdg/snakemake for root, else the user's
    config folder (Snakemake searches the working directory, the user's, then the site's)."""
    env = os.environ if env is None else env
    root = os.geteuid() == 0 if root is None else root
    if root:
        return Path("/etc/xdg/snakemake/slurm")
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "snakemake" / "slurm"


def install_profile(source: Path = PROFILE_DIR, dest: Path | None = None) -> Path:
    """Link the repository's Slurm profile where Snakemake finds it by name (kept up to date by
    being a link). A real folder someone put there is left alone."""
    dest = dest or named_profile_dir()
    if dest.is_symlink() or not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(source.resolve(), target_is_directory=True)
        tmp.replace(dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["install-profile"]:
        print(install_profile())
        return 0
    values = profile_values_or_exit()
    where = "learned from sinfo" if values.learned else "defaults (no sinfo)"
    gpu, cpu = values.gpu_node.describe(), values.cpu_node.describe()
    print(f"gpu node: {gpu}; cpu node: {cpu} ({where})")
    print(f"upscale jobs per gpu node: {values.jobs_per_gpu_node}")
    for request in values.requests():
        print(f"{request.rule}: {request.describe()} on {request.partition}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
