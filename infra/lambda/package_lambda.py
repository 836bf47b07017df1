#!/usr/bin/env python3
"""Build the trigger function's package: the handler's module and the `vsr` modules it imports.

    package_lambda.py OUTPUT.zip

The handler is `vsr.cloud.trigger.handler`; the Lambda runtime provides boto3. Only the modules the
handler imports (directly or through each other, read from their `import` statements) and their
packages' `__init__.py` go in, so the bundle carries no torch-era code and stays small. The zip is
reproducible (sorted entries, fixed timestamps), so its hash changes only with the code.
"""

from __future__ import annotations

import ast
import sys
import zipfile
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
HANDLER_MODULE = "vsr.cloud.trigger"
FIXED_TIME = (2020, 1, 1, 0, 0, 0)


def module_file(name: str) -> Path | None:
    """The source file of a `vsr` module or package under src/, if there is one."""
    base = SRC.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imported_modules(path: Path) -> set[str]:
    """The `vsr...` modules a source file imports, anywhere in it (lazy imports included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            # `from vsr.cloud import s3` names a module too
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name == "vsr" or name.startswith("vsr.")}


def package_files(handler: str = HANDLER_MODULE) -> list[Path]:
    """The handler's module, every `vsr` module it needs, and the `__init__.py` of each package."""
    pending, seen, files = [handler], set(), set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        # Importing a.b.c runs a/__init__.py and a/b/__init__.py first.
        pending += [".".join(parts[:i]) for i in range(1, len(parts))]
        path = module_file(name)
        if path is not None:
            files.add(path)
            pending += sorted(imported_modules(path))
    return sorted(files)


def build(output: Path) -> int:
    files = package_files()
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            info = zipfile.ZipInfo(str(path.relative_to(SRC)), FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return len(files)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: package_lambda.py OUTPUT.zip", file=sys.stderr)
        return 2
    if module_file(HANDLER_MODULE) is None:
        print(f"{HANDLER_MODULE}: missing: the trigger handler is not in src/", file=sys.stderr)
        return 1
    count = build(Path(argv[0]))
    print(f"{argv[0]}: {count} files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
