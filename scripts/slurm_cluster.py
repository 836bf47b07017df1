#!/usr/bin/env python3
"""Install, start and stop a Slurm test cluster on this machine: one node, or several.

usage: scripts/slurm_cluster.py up [--nodes N] | down | status | lose-node NAME |
       restart-controller [--down-s S] [--crash]

`up` installs the Debian packages when missing, writes /etc/slurm/slurm.conf and gres.conf,
starts munged, slurmctld and slurmd, and waits until every node is idle. One node (the default)
is this machine under its host name, in partitions `cpu` (default) and `gpu`, with one fake GPU.
With `--nodes N` (N > 1) each node is a host of its own: a network namespace with its own
address on a private bridge (scripts/slurm_hosts.py) and its own slurmd (`slurmd -N NAME`);
half the nodes (`vsr-gpu1`...) form the `gpu` partition with one fake GPU each, the others
(`vsr-cpu1`...) the `cpu` partition; all share the filesystem. A second `up` starts what is
missing (a lost node's slurmd) and is otherwise a no-op; `up` with another node count stops
and restarts the cluster. `down` stops only the daemons `up` started and removes the
namespaces, veths and bridge it made (recorded under the scratch directory, also when a run
was killed half way). `lose-node` kills every process on a node at once, as a power loss;
`restart-controller` stops slurmctld (SIGTERM, or SIGKILL with `--crash`) and starts it again
on its saved state. Stdlib only: it runs before the project's virtualenv exists.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import slurm_hosts
from slurm_config import MARKER, gres_conf_text, multi, node_name, slurm_conf_text
from slurm_hosts import Host, Registry

REPO = Path(__file__).resolve().parent.parent
SCRATCH = Path(os.environ.get("VSR_SLURM_DIR", "/tmp/vsr-slurm"))
STARTED = SCRATCH / "started"  # names of the daemons this script started, one per line
SLURM_DIR = Path("/etc/slurm")
SLURM_CONF = SLURM_DIR / "slurm.conf"
GRES_CONF = SLURM_DIR / "gres.conf"
PACKAGES = ["munge", "slurmctld", "slurmd", "slurm-client"]
MUNGE_RUN = Path("/run/munge")
MUNGE_PID = MUNGE_RUN / "munged.pid"
WAIT_S = 60


class ClusterError(RuntimeError):
    """A step failed; the message says which and why."""


def log(message: str) -> None:
    print(f"slurm-cluster: {message}", flush=True)


def pid_file(daemon: str) -> Path:
    """munged, slurmctld, or slurmd:NODE (one slurmd per node)."""
    if daemon == "munged":
        return MUNGE_PID
    return SCRATCH / f"{daemon.replace(':', '-')}.pid"


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


def layout(nodes: int) -> list[Host]:
    """The cluster's nodes: this machine itself for one node, else one namespace each."""
    if nodes <= 1:
        return [Host(node_name(), 0, 1)]
    return slurm_hosts.hosts(nodes)


def configured_nodes() -> list[Host]:
    """The nodes of the cluster this script configured last (one when none)."""
    text = SLURM_CONF.read_text() if SLURM_CONF.exists() else ""
    if MARKER not in text:
        return layout(1)
    return layout(len([line for line in text.splitlines() if line.startswith("NodeName=")]))


def node_states(nodes: list[Host]) -> dict[str, str]:
    names = ",".join(node.name for node in nodes)
    try:
        result = run(["sinfo", "-h", "-N", "-n", names, "-o", "%N %T"], timeout_s=10)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    pairs = (line.split() for line in result.stdout.splitlines() if len(line.split()) == 2)
    return {name: state.rstrip("*~#") for name, state in pairs}


def controller_up() -> bool:
    try:
        return "UP" in run(["scontrol", "ping"], timeout_s=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False


def node_ready(node: Host) -> bool:
    return node_states([node]).get(node.name) in ("idle", "mixed", "allocated")


def cluster_ready(nodes: list[Host]) -> bool:
    if not controller_up():
        return False
    states = node_states(nodes)
    return all(states.get(n.name) in ("idle", "mixed", "allocated") for n in nodes)


def install_packages() -> None:
    # The project's installer checks dpkg first and is a no-op when all are installed.
    subprocess.run([str(REPO / "scripts" / "install_system_deps.sh"), *PACKAGES], check=True)


def write_config(path: Path, text: str) -> None:
    if path.exists() and MARKER not in path.read_text():
        raise ClusterError(f"{path}: exists and was not written by this script; not overwriting")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def started_daemons() -> list[str]:
    return STARTED.read_text().split() if STARTED.exists() else []


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


def start_slurm_daemon(daemon: str, argv: list[str], ready: Callable[[], bool], what: str) -> None:
    if daemon_running(daemon):
        return
    pid_file(daemon).unlink(missing_ok=True)  # a stale pid would hide an early death
    result = run(argv)
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
    path = SCRATCH / f"{daemon.replace(':', '-')}.log"
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return f"last line of {path}: {lines[-1]}" if lines else f"no log at {path}"


def start_controller(clear_state: bool = False) -> None:
    # -c: a new node layout starts from an empty job table (old jobs named other nodes).
    argv = ["/usr/sbin/slurmctld", *(["-c"] if clear_state else [])]
    start_slurm_daemon("slurmctld", argv, controller_up, "slurmctld to answer `scontrol ping`")


def start_node(node: Host, nodes: list[Host]) -> None:
    daemon = f"slurmd:{node.name}"
    if multi(nodes):
        slurm_hosts.ensure_host(node, Registry(SCRATCH))
        argv = node.command(["/usr/sbin/slurmd", "-N", node.name])
    else:
        argv = ["/usr/sbin/slurmd"]
    (SCRATCH / "spool" / node.name).mkdir(parents=True, exist_ok=True)
    start_slurm_daemon(daemon, argv, lambda: node_ready(node), f"node {node.name} to become idle")
    if not node_ready(node):  # slurmd was running but the node is down: bring it back
        run(["scontrol", "update", f"NodeName={node.name}", "State=RESUME"])
        wait_for(f"node {node.name} to become idle", lambda: node_ready(node))


def up(count: int) -> None:
    install_packages()
    nodes = layout(count)
    wanted = slurm_conf_text(nodes, SCRATCH)
    ours = SLURM_CONF.exists() and MARKER in SLURM_CONF.read_text()
    if ours and SLURM_CONF.read_text() != wanted and started_daemons():
        log(f"{SLURM_CONF} describes another cluster: stopping it to start {count} node(s)")
        down()
    if cluster_ready(nodes) and (not ours or SLURM_CONF.read_text() == wanted):
        log(f"already up ({describe(nodes)})")
        log(f"profile: `snakemake --profile slurm` uses {link_named_profile()}")
        return
    new_layout = not SLURM_CONF.exists() or SLURM_CONF.read_text() != wanted
    write_config(SLURM_CONF, wanted)
    write_config(GRES_CONF, gres_conf_text(nodes))
    for sub in ("state", "spool"):
        (SCRATCH / sub).mkdir(parents=True, exist_ok=True)
    if multi(nodes):
        slurm_hosts.ensure_bridge(Registry(SCRATCH))
    start_munged()
    start_controller(clear_state=new_layout and not daemon_running("slurmctld"))
    for node in nodes:
        start_node(node, nodes)
    log(f"up: {describe(nodes)}")
    log(f"profile: `snakemake --profile slurm` uses {link_named_profile()}")


def describe(nodes: list[Host]) -> str:
    states = node_states(nodes)
    listed = ", ".join(f"{n.name} {states.get(n.name, 'unknown')}" for n in nodes)
    gpus = sum(n.gpus for n in nodes)
    where = f"own namespaces on {slurm_hosts.BRIDGE}" if multi(nodes) else "this machine"
    partitions = f"partitions cpu (default) and gpu, {gpus} fake GPU(s)"
    return f"{len(nodes)} node(s) ({where}): {listed}; {partitions}"


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
    registry = Registry(SCRATCH)
    if not started and not registry.entries():
        log("nothing to stop (no daemons started by this script)")
        return
    for daemon in [d for d in started if d.startswith("slurmd")] + ["slurmctld", "munged"]:
        if daemon in started:  # reverse start order
            stop(daemon)
    removed = slurm_hosts.remove_all(registry)  # processes left on the nodes go with them
    STARTED.unlink(missing_ok=True)
    log(f"down: stopped {', '.join(reversed(started)) or 'no daemons'}")
    if removed:
        log(f"down: removed {', '.join(removed)}")


def lose_node(name: str) -> int:
    """Every process on a multi-node cluster's node dies at once (power loss, Spot reclaim)."""
    if not slurm_hosts.netns_exists(name):
        raise ClusterError(f"no node {name} with a namespace of its own (multi-node clusters only)")
    killed = slurm_hosts.kill_all_in(name)
    log(f"lost node {name}: killed {killed} process(es); `up` starts its slurmd again")
    return 0


def restart_controller(down_s: float, crash: bool = False) -> int:
    """Stop slurmctld as a restart does (SIGTERM: it saves its state first), or as a crash does
    (`crash`: SIGKILL, so what changed since its last periodic state save is lost), then start
    it on the saved state."""
    if crash:
        pid = read_pid(pid_file("slurmctld"))
        if is_running(pid):
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            wait_for(f"slurmctld (pid {pid}) to die", lambda: not is_running(pid), timeout_s=10)
    else:
        stop("slurmctld")
    time.sleep(down_s)
    start_controller()
    log(f"slurmctld {'crashed' if crash else 'stopped'} and restarted after {down_s:.0f} s down")
    return 0


def status() -> int:
    nodes = configured_nodes()
    for daemon in ["munged", "slurmctld", *(f"slurmd:{n.name}" for n in nodes)]:
        state = "running" if daemon_running(daemon) else "stopped"
        log(f"{daemon}: {state}")
    ready = cluster_ready(nodes)
    log(f"{describe(nodes)}; cluster {'ready' if ready else 'down'}")
    return 0 if ready else 1


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="slurm_cluster.py")
    sub = parser.add_subparsers(dest="action", required=True)
    sub_up = sub.add_parser("up")
    default_nodes = int(os.environ.get("VSR_SLURM_NODES") or 1)
    sub_up.add_argument("--nodes", type=int, default=default_nodes)
    sub.add_parser("down")
    sub.add_parser("status")
    sub.add_parser("lose-node").add_argument("name")
    restart = sub.add_parser("restart-controller")
    restart.add_argument("--down-s", type=float, default=5.0)
    restart.add_argument("--crash", action="store_true", help="SIGKILL, not SIGTERM")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    if os.geteuid() != 0:  # it writes /etc/slurm and runs the daemons as root
        os.execvp("sudo", ["sudo", "-E", sys.executable, __file__, *argv])
    actions: dict[str, Callable[[], object]] = {
        "up": lambda: up(max(1, args.nodes)),
        "down": down,
        "status": status,
        "lose-node": lambda: lose_node(getattr(args, "name", "")),
        "restart-controller": lambda: restart_controller(
            getattr(args, "down_s", 5.0), getattr(args, "crash", False)
        ),
    }
    try:
        result = actions[args.action]()
    except (ClusterError, slurm_hosts.HostError, subprocess.CalledProcessError, OSError) as error:
        print(f"slurm_cluster.py {args.action}: {error}", file=sys.stderr)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
