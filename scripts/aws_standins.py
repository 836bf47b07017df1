#!/usr/bin/env python3
"""Start/stop the local AWS stand-ins on loopback: ministack (S3, SQS, Lambda) and moto (SSM, EC2).

    scripts/aws_standins.py up [--only ministack|moto]   idempotent, health-checked, bounded wait
    scripts/aws_standins.py down [--only ...]           stops only what `up` started (pid files)
    scripts/aws_standins.py status
    scripts/aws_standins.py env                         prints the AWS_* exports for a shell

Each server gets its own virtualenv (ministack pins botocore). Environment knobs:
AWS_STANDINS_DIR (pid files, logs; default <repo>/.aws-standins), MINISTACK_PORT (4566),
MOTO_PORT (5000), MINISTACK_PERSIST_DIR (set: ministack keeps S3 objects there across restarts).
Only the system python3 standard library is used here, so this runs on a fresh machine.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Server:
    name: str
    venv: Path
    requirements: tuple[str, ...]
    port: int
    health_path: str

    def command(self) -> list[str]:
        if self.name == "ministack":
            return [str(self.venv / "bin" / "ministack")]
        return [str(self.venv / "bin" / "moto_server"), "-H", HOST, "-p", str(self.port)]

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
        env.setdefault("AWS_ACCESS_KEY_ID", "test")
        env.setdefault("AWS_SECRET_ACCESS_KEY", "test")
        env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        if self.name == "ministack":
            env.update(BIND_HOST=HOST, GATEWAY_PORT=str(self.port), LOG_LEVEL="WARNING")
            persist = os.environ.get("MINISTACK_PERSIST_DIR")
            if persist:
                env.update(S3_PERSIST="1", S3_DATA_DIR=persist)
        else:
            # moto's SSM listing adds every known instance to each command; its request recording
            # shows what a client really sent (GET /moto-api/recorder/download-recording).
            recording = state_dir() / f"moto-{self.port}-requests.jsonl"
            env.update(MOTO_ENABLE_RECORDING="1", MOTO_RECORDER_FILEPATH=str(recording))
        return env

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


def servers() -> dict[str, Server]:
    return {
        "ministack": Server(
            "ministack",
            REPO / ".venv-ministack",
            # boto3 matching ministack's botocore pin: Lambdas run with this interpreter.
            ("ministack==1.5.33", "botocore==1.43.106", "boto3==1.43.106"),
            int(os.environ.get("MINISTACK_PORT", "4566")),
            "/_ministack/health",
        ),
        "moto": Server(
            "moto",
            REPO / ".venv-moto",
            ("moto[server]==5.2.5",),
            int(os.environ.get("MOTO_PORT", "5000")),
            "/moto-api/",
        ),
    }


def state_dir() -> Path:
    path = Path(os.environ.get("AWS_STANDINS_DIR", REPO / ".aws-standins"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def pid_file(server: Server) -> Path:
    return state_dir() / f"{server.name}-{server.port}.pid"


def ensure_venv(server: Server) -> None:
    """Create the server's venv once; the stamp records what was installed."""
    stamp = server.venv / ".installed"
    wanted = "\n".join(server.requirements)
    if stamp.exists() and stamp.read_text() == wanted:
        return
    print(f"{server.name}: creating {server.venv.name}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(server.venv)], check=True)
    pip = [str(server.venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *server.requirements], check=True, timeout=600)
    stamp.write_text(wanted)


def healthy(server: Server) -> bool:
    try:
        with urllib.request.urlopen(server.url + server.health_path, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def alive(pid: int) -> bool:
    """True for a running process; a zombie counts as stopped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def owned_pid(server: Server) -> int | None:
    """The pid from our pid file, only if that process is still the server we started."""
    path = pid_file(server)
    if not path.exists():
        return None
    pid = int(path.read_text().strip() or 0)
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        cmdline = ""
    if pid > 0 and alive(pid) and str(server.venv) in cmdline:
        return pid
    path.unlink(missing_ok=True)
    return None


def start(server: Server) -> None:
    if healthy(server):
        print(f"{server.name}: already running at {server.url}")
        return
    ensure_venv(server)
    (state_dir() / f"moto-{server.port}-requests.jsonl").unlink(missing_ok=True)  # per server run
    log = (state_dir() / f"{server.name}-{server.port}.log").open("ab")
    process = subprocess.Popen(
        server.command(),
        env=server.environment(),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=state_dir(),
    )
    pid_file(server).write_text(str(process.pid))
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pid_file(server).unlink(missing_ok=True)
            if healthy(server):  # another session started it meanwhile: share it
                print(f"{server.name}: already running at {server.url}")
                return
            raise SystemExit(f"{server.name}: exited with {process.returncode}; see {log.name}")
        if healthy(server):
            print(f"{server.name}: started pid {process.pid} at {server.url}")
            return
        time.sleep(0.2)
    stop(server)
    raise SystemExit(f"{server.name}: not healthy after {START_TIMEOUT_S:.0f} s; see {log.name}")


def stop(server: Server) -> None:
    pid = owned_pid(server)
    if pid is None:
        print(f"{server.name}: nothing started by us on port {server.port}")
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
    pid_file(server).unlink(missing_ok=True)
    print(f"{server.name}: stopped pid {pid}")


def print_env() -> None:
    found = servers()
    print("export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1")
    print(f"export AWS_ENDPOINT_URL={found['ministack'].url}")
    for service in ("SSM", "EC2"):
        print(f"export AWS_ENDPOINT_URL_{service}={found['moto'].url}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "down", "status", "env"])
    parser.add_argument("--only", choices=["ministack", "moto"])
    args = parser.parse_args(argv)
    if args.action == "env":
        print_env()
        return 0
    chosen = [s for s in servers().values() if args.only in (None, s.name)]
    for server in chosen:
        if args.action == "up":
            start(server)
        elif args.action == "down":
            stop(server)
        else:
            state = "healthy" if healthy(server) else "down"
            print(f"{server.name}: {state} at {server.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
