"""What made an output: the tool (version, and commit when run from a checkout) and the model
(name, weights sha256, licence, whether it synthesises detail). summary.json carries it in full;
the output file carries a one-line tag of it in its container metadata (`comment`)."""

from __future__ import annotations

import functools
import hashlib
import subprocess
from pathlib import Path
from typing import Any

from vsr import WORKFLOW_ROOT, __version__
from vsr.errors import VsrError
from vsr.models.registry import resolve_model
from vsr.models.weights import weights_file


@functools.cache
def tool() -> dict[str, Any]:
    """{"name": "vsr", "version", "commit"}: the commit (with `+dirty` for local changes) only
    when the workflow is a git checkout."""
    commit = None
    if (WORKFLOW_ROOT / ".git").exists():
        try:
            head = subprocess.run(
                ["git", "-C", str(WORKFLOW_ROOT), "rev-parse", "HEAD"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.strip()
            dirty = subprocess.run(
                ["git", "-C", str(WORKFLOW_ROOT), "status", "--porcelain", "-uno"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout.strip()
            commit = head + ("+dirty" if dirty else "")
        except (OSError, subprocess.SubprocessError):
            commit = None
    return {"name": "vsr", "version": __version__, "commit": commit}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@functools.cache
def model(name: str) -> dict[str, Any]:
    """Name, architecture, scale, licence, source, weights file and sha256, and whether it
    synthesises detail (a GAN-trained model invents plausible texture)."""
    spec = resolve_model(name)
    try:
        weights = weights_file(spec)
    except VsrError:
        weights = None
    return {
        "name": spec.name if not spec.path else name,
        "arch": spec.arch,
        "scale": spec.scale,
        "licence": spec.licence,
        "source": spec.source,
        "weights_file": weights.name if weights else None,
        "weights_sha256": _sha256(weights) if weights else None,
        "synthesises_detail": spec.synthesises_detail,
    }


def file_tag(name: str) -> str:
    """The output file's short provenance tag (its container `comment`)."""
    info, made_by = model(name), tool()
    version = made_by["version"] + (f" ({made_by['commit'][:12]})" if made_by["commit"] else "")
    weights = f"sha256:{info['weights_sha256'][:16]}" if info["weights_sha256"] else "none"
    gan = {True: "GAN: detail synthesised", False: "no GAN", None: "GAN: unknown"}
    return (
        f"vsr {version}; model {info['name']} x{info['scale']}; weights {weights};"
        f" {gan[info['synthesises_detail']]}"
    )
