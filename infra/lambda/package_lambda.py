#!/usr/bin/env python3
"""Build the trigger function's package: the `vsr` Python sources from src/, as a Lambda zip.

    package_lambda.py OUTPUT.zip

The handler is `vsr.cloud.trigger.handler`; the Lambda runtime provides boto3. The zip is
reproducible (sorted entries, fixed timestamps), so its hash changes only with the code.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
HANDLER_MODULE = SRC / "vsr" / "cloud" / "trigger.py"
FIXED_TIME = (2020, 1, 1, 0, 0, 0)


def package_files() -> list[Path]:
    return sorted(p for p in (SRC / "vsr").rglob("*.py") if "__pycache__" not in p.parts)


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
    if not HANDLER_MODULE.is_file():
        print(f"{HANDLER_MODULE}: missing: the trigger handler is not in src/ yet", file=sys.stderr)
        return 1
    count = build(Path(argv[0]))
    print(f"{argv[0]}: {count} files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
