"""Source format: a checkpoint at a URL (https, or file:// / http:// for local mirrors).

Downloaded once into the cache, hashed while streaming, and renamed into place only when the
hash matches the pinned one: a mismatch leaves nothing behind in the cache.
"""

import hashlib
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from vsr.errors import VsrError
from vsr.models.cache import atomic_write, models_cache_dir

URL_SCHEMES = ("https", "http", "file")
WEIGHT_SUFFIXES = (".pth", ".safetensors", ".pt", ".ckpt")
TIMEOUT_S = 60


def is_url(text: str) -> bool:
    return urllib.parse.urlsplit(text).scheme in URL_SCHEMES


def split_pinned_url(url: str, sha256: str | None = None) -> tuple[str, str | None]:
    """`https://host/x.pth#sha256=HEX` -> (`https://host/x.pth`, `hex`).

    The fragment form lets a manifest's `model` column pin a hash.
    """
    base, _, fragment = url.partition("#")
    key, _, value = fragment.partition("=")
    if key == "sha256" and value:
        if sha256 and sha256.lower() != value.lower():
            raise VsrError(url, f"two different sha256 values given ({sha256}, {value})")
        sha256 = value
    return base, sha256.lower() if sha256 else None


def cached_download_path(url: str, sha256: str | None) -> Path:
    name = Path(urllib.parse.urlsplit(url).path).name or "model.pth"
    if not name.lower().endswith(WEIGHT_SUFFIXES):
        name += ".pth"
    key = sha256 or hashlib.sha256(url.encode()).hexdigest()
    return models_cache_dir() / "downloads" / f"{key[:16]}-{name}"


def fetch_url(url: str, sha256: str | None = None) -> Path:
    """Local path of the checkpoint at `url`, downloading it on first use."""
    url, sha256 = split_pinned_url(url, sha256)
    dest = cached_download_path(url, sha256)
    if dest.is_file():
        return dest  # only ever written after its hash was checked
    return atomic_write(dest, lambda tmp: _download_verified(url, tmp, sha256))


def _download_verified(url: str, tmp: Path, sha256: str | None) -> None:
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(tmp, "wb") as out:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise VsrError(url, f"download failed: {getattr(error, 'reason', error)}") from error
    actual = digest.hexdigest()
    if sha256 and actual != sha256:
        raise VsrError(url, f"sha256 mismatch: expected {sha256}, got {actual}; not cached")
