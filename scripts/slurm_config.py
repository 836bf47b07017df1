"""The text of slurm.conf and gres.conf for the test cluster's nodes (see slurm_cluster.py)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from slurm_hosts import CONTROLLER_ADDR, Host

MARKER = "# written by vsr scripts/slurm_cluster.py"
# The executor plugin reads job states with squeue, so finished jobs must stay visible for at
# least 3 x its first-status-check delay (40 s by default); 600 s also keeps the records
# (partition, GRES) available to tests via `scontrol show job`.
MIN_JOB_AGE_S = 600
# A multi-node cluster notices a lost node within this (slurmctld pings every third of it).
MULTI_NODE_SLURMD_TIMEOUT_S = 10


def node_name() -> str:
    return socket.gethostname().split(".")[0]


def multi(nodes: list[Host]) -> bool:
    return nodes[0].index > 0


def real_memory_mb() -> int:
    """80% of RAM: room for the OS and the submitting snakemake process."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 8 // 10 // 1024
    raise OSError("cannot read MemTotal from /proc/meminfo")


def node_lines(nodes: list[Host]) -> list[str]:
    memory = real_memory_mb() // len(nodes)  # the nodes share this machine's memory
    lines = []
    for node in nodes:
        addr = node.addr if multi(nodes) else "127.0.0.1"
        gres = f" Gres=gpu:{node.gpus}" if node.gpus else ""
        lines.append(
            f"NodeName={node.name} NodeAddr={addr} CPUs={os.cpu_count() or 1}"
            f" RealMemory={memory}{gres} State=UNKNOWN"
        )
    return lines


def partition_lines(nodes: list[Host]) -> list[str]:
    if not multi(nodes):
        name = nodes[0].name
        cpu, gpu = name, name  # both partitions share the one node
    else:
        cpu = ",".join(n.name for n in nodes if not n.gpus)
        gpu = ",".join(n.name for n in nodes if n.gpus)
    return [
        f"PartitionName=cpu Nodes={cpu} Default=YES MaxTime=INFINITE State=UP",
        f"PartitionName=gpu Nodes={gpu} Default=NO MaxTime=INFINITE State=UP",
    ]


def slurm_conf_text(nodes: list[Host], scratch: Path) -> str:
    host = node_name()
    addr = CONTROLLER_ADDR if multi(nodes) else "127.0.0.1"
    timeout_s = MULTI_NODE_SLURMD_TIMEOUT_S if multi(nodes) else 30
    body = "\n".join([*node_lines(nodes), *partition_lines(nodes)])
    return f"""{MARKER}; `make cluster-down` leaves it in place
ClusterName=vsr
SlurmctldHost={host}({addr})
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# A requeued job may start again only once its credential has expired (default 120 s). Jobs here
# start within seconds of being scheduled, so a short lifetime is safe and a lost node's job is
# back in half a minute rather than two.
AuthInfo=cred_expire=30
StateSaveLocation={scratch}/state
SlurmdSpoolDir={scratch}/spool/%n
SlurmctldPidFile={scratch}/slurmctld.pid
SlurmdPidFile={scratch}/slurmd-%n.pid
SlurmctldLogFile={scratch}/slurmctld.log
SlurmdLogFile={scratch}/slurmd-%n.log
# No systemd or cgroups on CI machines.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# One line per finished job (partition, state, exit code), kept after MinJobAge.
JobCompType=jobcomp/filetxt
JobCompLoc={scratch}/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
ReturnToService=2
MinJobAge={MIN_JOB_AGE_S}
SchedulerType=sched/backfill
# Both partitions share the node: a GPU job waiting for the GPU blocks the main scheduler for
# the node, so CPU jobs start through backfill; the default 30 s pass would idle the CPUs.
SchedulerParameters=bf_interval=1
SlurmctldTimeout=30
# A node that stops answering is DOWN after this; its jobs are requeued (sbatch --requeue).
SlurmdTimeout={timeout_s}
{body}
"""


def gres_conf_text(nodes: list[Host]) -> str:
    # File=/dev/null: a fake device so GPU requests schedule on a machine without a GPU.
    lines = [f"NodeName={n.name} Name=gpu Count={n.gpus} File=/dev/null" for n in nodes if n.gpus]
    return "\n".join([MARKER, "AutoDetect=off", *lines]) + "\n"
