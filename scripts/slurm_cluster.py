#!/usr/bin/env python3
"""Install, start and stop a single-node Slurm cluster for tests and demos.

usage: scripts/slurm_cluster.py up|down|status

`up` installs the Debian packages when missing, writes /etc/slurm/slurm.conf and gres.conf
(partitions `cpu` (default) and `gpu` on this one node, one fake GPU), starts munged,
slurmctld and slurmd and waits until the node is idle. A second `up` is a no-op. `down` stops
only the daemons that `up` started (recorded under the scratch directory). Stdlib only: it
runs before the project's virtualenv exists.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCRATCH = Path(os.environ.get("VSR_SLURM_DIR", "/tmp/vsr-slurm"))
STARTED = SCRATCH / "started"  # names of the daemons this script started, one per line
SLURM_DIR = Path("/etc/slurm")
SLURM_CONF = SLURM_DIR / "slurm.conf"
GRES_CONF = SLURM_DIR / "gres.conf"
MARKER = "# written by vsr scripts/slurm_cluster.py"
PACKAGES = ["munge", "slurmctld", "slurmd", "slurm-client"]
MUNGE_RUN = Path("/run/munge")
MUNGE_PID = MUNGE_RUN / "munged.pid"
# The executor plugin reads job states with squeue, so finished jobs must stay visible for at
# least 3 x its first-status-check delay (40 s by default); 600 s also keeps the records
# (partition, GRES) available to tests via `scontrol show job`.
MIN_JOB_AGE_S = 600
WAIT_S = 60


class ClusterError(RuntimeError):
    """A step failed; the message says which and why."""


def log(message: str) -> None:
    print(f"slurm-cluster: {message}", flush=True)


def pid_file(daemon: str) -> Path:
    return MUNGE_PID if daemon == "munged" else SCRATCH / f"{daemon}.pid"


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def is_running(pid: int | None) -> bool:
    """True for a live process; a zombie (exited, not yet reaped) counts as stopped."""
    if pid is None or pid <= 0:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def daemon_running(daemon: str) -> bool:
    return is_running(read_pid(pid_file(daemon)))


def wait_for(
    what: str,
    check: Callable[[], bool],
    timeout_s: float = WAIT_S,
    alive: Callable[[], bool] = lambda: True,
) -> None:
    """Poll `check` until true; fail at once when the process we wait on has died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        if not alive():
            raise ClusterError(f"died while waiting for {what}")
        time.sleep(0.3)
    raise ClusterError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def run(cmd: list[str], timeout_s: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)


def node_name() -> str:
    return socket.gethostname().split(".")[0]


def node_state() -> str:
    try:
        result = run(["sinfo", "-h", "-N", "-n", node_name(), "-o", "%T"], timeout_s=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.split()[0].rstrip("*~#") if result.stdout.split() else ""


def controller_up() -> bool:
    try:
        return "UP" in run(["scontrol", "ping"], timeout_s=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False


def cluster_ready() -> bool:
    return controller_up() and node_state() in ("idle", "mixed", "allocated")


def install_packages() -> None:
    # The project's installer checks dpkg first and is a no-op when all are installed.
    subprocess.run([str(REPO / "scripts" / "install_system_deps.sh"), *PACKAGES], check=True)


def real_memory_mb() -> int:
    """80% of RAM: room for the OS and the submitting snakemake process."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 8 // 10 // 1024
    raise ClusterError("cannot read MemTotal from /proc/meminfo")


def slurm_conf_text(host: str) -> str:
    node = f"NodeName={host} NodeAddr=127.0.0.1 CPUs={os.cpu_count() or 1}"
    node += f" RealMemory={real_memory_mb()} Gres=gpu:1 State=UNKNOWN"
    return f"""{MARKER}; `make cluster-down` leaves it in place
ClusterName=vsr
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={SCRATCH}/state
SlurmdSpoolDir={SCRATCH}/spool
SlurmctldPidFile={pid_file("slurmctld")}
SlurmdPidFile={pid_file("slurmd")}
SlurmctldLogFile={SCRATCH}/slurmctld.log
SlurmdLogFile={SCRATCH}/slurmd.log
# No systemd or cgroups on CI machines.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# One line per finished job (partition, state, exit code), kept after MinJobAge.
JobCompType=jobcomp/filetxt
JobCompLoc={SCRATCH}/jobcomp.log
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
SlurmdTimeout=30
{node}
PartitionName=cpu Nodes={host} Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes={host} Default=NO MaxTime=INFINITE State=UP
"""


def gres_conf_text(host: str) -> str:
    # File=/dev/null: a fake device so GPU requests schedule on a machine without a GPU.
    return f"{MARKER}\nAutoDetect=off\nNodeName={host} Name=gpu Count=1 File=/dev/null\n"


def write_config(path: Path, text: str) -> None:
    if path.exists() and MARKER not in path.read_text():
        raise ClusterError(f"{path}: exists and was not written by this script; not overwriting")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def started_daemons() -> list[str]:
    return STARTED.read_text().split() if STARTED.exists() else []


def config_outdated() -> bool:
    if not SLURM_CONF.exists() or MARKER not in SLURM_CONF.read_text():
        return False  # not ours: leave it alone
    return SLURM_CONF.read_text() != slurm_conf_text(node_name())


def record_started(daemon: str) -> None:
    if daemon not in started_daemons():
        with STARTED.open("a") as handle:
            handle.write(f"{daemon}\n")


def start_munged() -> None:
    if daemon_running("munged"):
        return
    if not Path("/etc/munge/munge.key").exists():
        run(["runuser", "-u", "munge", "--", "/usr/sbin/mungekey", "--create"])
    MUNGE_RUN.mkdir(parents=True, exist_ok=True)
    shutil.chown(MUNGE_RUN, "munge", "munge")
    result = run(["runuser", "-u", "munge", "--", "/usr/sbin/munged", "--force"])
    if result.returncode != 0:
        raise ClusterError(f"munged failed to start: {result.stderr.strip()}")
    wait_for("munged", lambda: daemon_running("munged"))
    record_started("munged")


def start_slurm_daemon(daemon: str, ready: Callable[[], bool], what: str) -> None:
    if daemon_running(daemon):
        return
    pid_file(daemon).unlink(missing_ok=True)  # a stale pid would hide an early death
    result = run([f"/usr/sbin/{daemon}"])
    if result.returncode != 0:
        reason = result.stderr.strip() or log_tail(daemon)
        raise ClusterError(f"{daemon} failed to start: {reason}")
    record_started(daemon)
    try:
        wait_for(what, ready, alive=lambda: daemon_running(daemon) or not pid_file(daemon).exists())
    except ClusterError as error:
        raise ClusterError(f"{daemon}: {error}; {log_tail(daemon)}") from None


def log_tail(daemon: str) -> str:
    """The daemon's last log line: usually the reason it stopped."""
    path = SCRATCH / f"{daemon}.log"
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return f"last line of {path}: {lines[-1]}" if lines else f"no log at {path}"


def up() -> None:
    install_packages()
    if cluster_ready():
        log(f"already up (node {node_name()} {node_state()})")
        log(f"profile: `snakemake --profile slurm` uses {link_named_profile()}")
        if config_outdated():
            log(f"{SLURM_CONF} is outdated: `make cluster-down cluster-up` rewrites it")
        return
    host = node_name()
    write_config(SLURM_CONF, slurm_conf_text(host))
    write_config(GRES_CONF, gres_conf_text(host))
    for sub in ("state", "spool"):
        (SCRATCH / sub).mkdir(parents=True, exist_ok=True)
    start_munged()
    start_slurm_daemon("slurmctld", controller_up, "slurmctld to answer `scontrol ping`")
    start_slurm_daemon("slurmd", cluster_ready, f"node {host} to become idle")
    if not cluster_ready():  # slurmd was running but the node is down: bring it back
        run(["scontrol", "update", f"NodeName={host}", "State=RESUME"])
        wait_for(f"node {host} to become idle", cluster_ready)
    log(f"up: node {host} {node_state()}, partitions cpu (default) and gpu, 1 fake GPU")
    log(f"profile: `snakemake --profile slurm` uses {link_named_profile()}")


def link_named_profile() -> Path:
    """Link profiles/slurm where Snakemake finds profiles by name (stdlib code of the package)."""
    sys.path.insert(0, str(REPO / "src"))
    from vsr.workflow.cluster import install_profile

    return install_profile(REPO / "profiles" / "slurm")


def stop(daemon: str) -> None:
    pid = read_pid(pid_file(daemon))
    if not is_running(pid):
        return
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    try:
        wait_for(f"{daemon} (pid {pid}) to exit", lambda: not is_running(pid), timeout_s=20)
    except ClusterError:
        log(f"{daemon} ignored SIGTERM; killing pid {pid}")
        os.kill(pid, signal.SIGKILL)
        wait_for(f"{daemon} (pid {pid}) to die", lambda: not is_running(pid), timeout_s=10)


def down() -> None:
    started = started_daemons()
    if not started:
        log("nothing to stop (no daemons started by this script)")
        return
    for daemon in ("slurmd", "slurmctld", "munged"):  # reverse start order
        if daemon in started:
            stop(daemon)
    STARTED.unlink()
    log(f"down: stopped {', '.join(reversed(started))}")


def status() -> int:
    for daemon in ("munged", "slurmctld", "slurmd"):
        state = "running" if daemon_running(daemon) else "stopped"
        log(f"{daemon}: {state}")
    ready = cluster_ready()
    log(f"node {node_name()}: {node_state() or 'unknown'}; cluster {'ready' if ready else 'down'}")
    return 0 if ready else 1


def main(argv: list[str]) -> int:
    actions: dict[str, Callable[[], object]] = {"up": up, "down": down, "status": status}
    if len(argv) != 1 or argv[0] not in actions:
        print("usage: slurm_cluster.py up|down|status", file=sys.stderr)
        return 2
    if os.geteuid() != 0:  # it writes /etc/slurm and runs the daemons as root
        os.execvp("sudo", ["sudo", "-E", sys.executable, __file__, *argv])
    try:
        result = actions[argv[0]]()
    except (ClusterError, subprocess.CalledProcessError, OSError) as error:
        print(f"slurm_cluster.py {argv[0]}: {error}", file=sys.stderr)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
