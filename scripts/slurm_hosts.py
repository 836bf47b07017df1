"""Hosts for a multi-node test cluster: one network namespace per Slurm node, on one bridge.

Each node gets its own namespace (`vsr-<node>`), a veth pair whose host end is on the bridge
`vsr-br0`, and a private address in 10.213.0.0/24; the controller listens on the bridge's
10.213.0.1. Namespaces change only the network: every node sees the same filesystem (the shared
storage of a real cluster) and the same mounts. Whatever is about to be made is recorded first in
`<scratch>/made`, so `remove_all` removes exactly that, also after a run killed half way.
Stdlib only (the cluster script runs before the project's virtualenv exists).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

BRIDGE = "vsr-br0"
SUBNET = "10.213.0"  # private (RFC 1918) block nothing else here uses
CONTROLLER_ADDR = f"{SUBNET}.1"
PREFIX = 24


class HostError(RuntimeError):
    """An `ip` command failed; the message names it and says why."""


@dataclass(frozen=True)
class Host:
    name: str  # the Slurm node name, also the namespace name
    index: int  # 1-based: addresses and veth names
    gpus: int

    @property
    def addr(self) -> str:
        return f"{SUBNET}.{10 + self.index}"

    @property
    def veth(self) -> str:
        return f"vsrh{self.index}"  # host end; the namespace end is eth0

    def command(self, argv: list[str]) -> list[str]:
        """`argv` run in this host's network namespace (mounts stay the machine's own)."""
        return ["nsenter", f"--net=/run/netns/{self.name}", *argv]


def hosts(nodes: int) -> list[Host]:
    """Half the nodes (rounded up) with one fake GPU each, the rest CPU only."""
    gpu_nodes = (nodes + 1) // 2
    made = [Host(f"vsr-gpu{i + 1}", i + 1, 1) for i in range(gpu_nodes)]
    made += [Host(f"vsr-cpu{i + 1}", gpu_nodes + i + 1, 0) for i in range(nodes - gpu_nodes)]
    return made


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if check and result.returncode != 0:
        raise HostError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


class Registry:
    """The objects this module made, one `kind name` per line, written before making them."""

    def __init__(self, scratch: Path):
        self.path = scratch / "made"

    def entries(self) -> list[tuple[str, str]]:
        if not self.path.exists():
            return []
        return [tuple(line.split(None, 1)) for line in self.path.read_text().splitlines() if line]  # type: ignore[misc]

    def add(self, kind: str, name: str) -> None:
        if (kind, name) not in self.entries():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as handle:
                handle.write(f"{kind} {name}\n")

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)


def netns_exists(name: str) -> bool:
    return Path(f"/run/netns/{name}").exists()


def link_exists(name: str) -> bool:
    return _ip("link", "show", name, check=False).returncode == 0


def ensure_bridge(registry: Registry) -> None:
    if link_exists(BRIDGE):
        if f"{CONTROLLER_ADDR}/" in _ip("-o", "addr", "show", "dev", BRIDGE).stdout:
            return
        if ("bridge", BRIDGE) not in registry.entries():
            raise HostError(f"{BRIDGE} exists and was not made by this script; not touching it")
        _ip("link", "del", BRIDGE)
    registry.add("bridge", BRIDGE)
    _ip("link", "add", BRIDGE, "type", "bridge")
    _ip("addr", "add", f"{CONTROLLER_ADDR}/{PREFIX}", "dev", BRIDGE)
    _ip("link", "set", BRIDGE, "up")


def host_ready(host: Host) -> bool:
    if not netns_exists(host.name):
        return False
    shown = _ip("-n", host.name, "-o", "addr", "show", "dev", "eth0", check=False).stdout
    return f"{host.addr}/" in shown and link_exists(host.veth)


def ensure_host(host: Host, registry: Registry) -> None:
    """The node's namespace with its address, made afresh unless complete already."""
    if host_ready(host):
        return
    if netns_exists(host.name) and ("netns", host.name) not in registry.entries():
        raise HostError(f"namespace {host.name} exists and was not made by this script")
    remove_host(host)
    registry.add("netns", host.name)
    registry.add("veth", host.veth)
    _ip("netns", "add", host.name)
    _ip("link", "add", host.veth, "type", "veth", "peer", "name", "eth0", "netns", host.name)
    _ip("link", "set", host.veth, "master", BRIDGE, "up")
    _ip("-n", host.name, "addr", "add", f"{host.addr}/{PREFIX}", "dev", "eth0")
    _ip("-n", host.name, "link", "set", "eth0", "up")
    _ip("-n", host.name, "link", "set", "lo", "up")


def pids_in(name: str) -> list[int]:
    """Processes whose network namespace is this node's: everything running on the node."""
    if not netns_exists(name):
        return []
    out = _ip("netns", "pids", name, check=False).stdout.split()
    return [int(pid) for pid in out if pid.isdigit()]


def kill_all_in(name: str, wait_s: float = 10) -> int:
    """SIGKILL every process on the node (a node that loses power); returns how many."""
    killed = 0
    deadline = time.monotonic() + wait_s
    while (pids := pids_in(name)) and time.monotonic() < deadline:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
        time.sleep(0.2)
    return killed


def remove_host(host: Host) -> None:
    kill_all_in(host.name)
    if netns_exists(host.name):
        _ip("netns", "del", host.name)  # removes eth0 and with it the veth's host end
    if link_exists(host.veth):
        _ip("link", "del", host.veth)


def remove_all(registry: Registry) -> list[str]:
    """Remove every namespace and bridge recorded as made here; returns what was removed."""
    removed = []
    entries = registry.entries()
    for kind, name in entries:
        if kind == "netns":
            kill_all_in(name)
            if netns_exists(name):
                _ip("netns", "del", name)
                removed.append(f"namespace {name}")
    for kind, name in entries:
        # A veth outlives its namespace only when a run was killed between the two steps.
        if kind in ("veth", "bridge") and link_exists(name):
            _ip("link", "del", name)
            removed.append(f"{kind} {name}")
    registry.forget()
    return removed
