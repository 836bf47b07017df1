"""Where converted and downloaded weights live, and how they get there safely."""

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import platformdirs

from vsr.util import atomic_output

CACHE_ENV = "VSR_CACHE_DIR"


COMPILE_CACHE_ENV = "VSR_COMPILE_CACHE_DIR"


def cache_root() -> Path:
    """`$VSR_CACHE_DIR`, else the user cache dir (e.g. ~/.cache/vsr; on the cluster's nodes
    XDG_CACHE_HOME points at shared storage, so every node shares it)."""
    return Path(os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir("vsr"))


def models_cache_dir() -> Path:
    """`$VSR_CACHE_DIR/models`, else the user cache dir (e.g. ~/.cache/vsr/models)."""
    path = cache_root() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def compile_cache_dir() -> Path:
    """torch.compile's (inductor and Triton) cache: `$VSR_COMPILE_CACHE_DIR`, else
    `<cache root>/torch-compile`, shared by every job instead of each node's /tmp."""
    path = Path(os.environ.get(COMPILE_CACHE_ENV) or cache_root() / "torch-compile")
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write(dest: Path, write: Callable[[Path], None]) -> Path:
    """Run `write(tmp)` then rename onto `dest`.

    Several jobs (e.g. Slurm tasks on a shared cache) may do this at once: each writes its own
    temporary file in the same directory and `os.replace` is atomic, so readers only ever see a
    complete file. If `write` raises, the temporary file is removed and `dest` is untouched.
    """
    with atomic_output(dest, shared=True) as tmp:
        write(tmp)
        tmp.chmod(0o644)  # a shared cache must be readable by every job, whatever its umask
    return dest
