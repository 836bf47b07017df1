"""A stand-in for the SSM agent on the head node: runs AWS-RunShellScript commands as it does.

moto accepts SendCommand but runs nothing; its request recording shows what the Lambda sent. The
agent here takes one such command and does what amazon-ssm-agent does with AWS-RunShellScript:
the `commands` lines, joined by newlines, become `_script.sh` in the command's orchestration
folder, which is also the working directory; `sh` runs it as the agent's user (root), with the
agent's small environment plus what the instance provides (its role's credentials and
endpoints); stdout and stderr go to `<OutputS3KeyPrefix>/<command id>/<instance>/
awsrunShellScript/0.awsrunShellScript/stdout|stderr` in the output bucket.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

AGENT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PLUGIN = "awsrunShellScript/0.awsrunShellScript"


@dataclass
class Execution:
    returncode: int
    stdout: str
    stderr: str
    script: Path
    workdir: Path


def run_shell_script(
    command: dict[str, Any],
    command_id: str,
    instance: str,
    root: Path,
    instance_env: dict[str, str],
    s3: Any,
    timeout_s: float,
) -> Execution:
    """Execute one recorded SendCommand request (its JSON body) as the agent would."""
    assert command["DocumentName"] == "AWS-RunShellScript"
    assert command["InstanceIds"] == [instance]
    parameters = command["Parameters"]
    workdir = root / instance / "document" / "orchestration" / command_id / PLUGIN
    workdir.mkdir(parents=True)
    script = workdir / "_script.sh"
    script.write_text("\n".join(parameters["commands"]) + "\n")
    script.chmod(0o700)
    if parameters.get("workingDirectory", [""])[0]:
        workdir = Path(parameters["workingDirectory"][0])
    limit = float(parameters.get("executionTimeout", [timeout_s])[0])
    env = {"PATH": AGENT_PATH, "HOME": "/root", "LANG": "C.UTF-8", **instance_env}
    result = subprocess.run(
        ["sh", "-c", str(script)], cwd=workdir, env=env, capture_output=True, text=True,
        timeout=min(limit, timeout_s),
    )  # fmt: skip
    bucket = command.get("OutputS3BucketName")
    if bucket:
        prefix = f"{command.get('OutputS3KeyPrefix', '')}/{command_id}/{instance}/{PLUGIN}"
        for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
            s3.put_object(Bucket=bucket, Key=f"{prefix.lstrip('/')}/{name}", Body=text.encode())
    return Execution(result.returncode, result.stdout, result.stderr, script, workdir)
