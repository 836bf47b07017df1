"""Where converted and downloaded weights live, and how they get there safely."""

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import platformdirs

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
    dest.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        tmp.chmod(0o644)  # mkstemp makes 0600; a shared cache must be readable by every job
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest
