"""Where converted and downloaded weights live, and how they get there safely."""

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import platformdirs

from vsr.util import atomic_output

CACHE_ENV = "VSR_CACHE_DIR"


def models_cache_dir() -> Path:
    """`$VSR_CACHE_DIR/models`, else the user cache dir (e.g. ~/.cache/vsr/models)."""
    root = os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir("vsr")
    path = Path(root) / "models"
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
