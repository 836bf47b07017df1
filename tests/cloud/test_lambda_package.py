"""The trigger's Lambda package holds what its handler imports, and nothing of the video stack."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import sysconfig
import zipfile

from vsr import WORKFLOW_ROOT

PACKAGER = WORKFLOW_ROOT / "infra" / "lambda" / "package_lambda.py"


def test_handler_imports_from_the_zip_alone(tmp_path):
    bundle = tmp_path / "trigger.zip"
    built = subprocess.run(
        [sys.executable, str(PACKAGER), str(bundle)], capture_output=True, text=True, timeout=60
    )
    assert built.returncode == 0, built.stderr
    names = zipfile.ZipFile(bundle).namelist()
    assert "vsr/cloud/trigger.py" in names
    assert not [n for n in names if n.startswith(("vsr/models/", "vsr/infer/", "vsr/steps/"))]

    # Isolated (-I), without site (-S: no .pth file points back at src/): the zip first, then the
    # installed packages for boto3, which the Lambda runtime provides.
    code = (
        "import sys; sys.path[:0] = [sys.argv[1]]; sys.path.append(sys.argv[2]);"
        "import vsr.cloud.trigger as t; assert callable(t.handler);"
        "print('\\n'.join(sorted(m.__file__ for n, m in sys.modules.items()"
        " if n.split('.')[0] == 'vsr')))"
    )
    purelib = sysconfig.get_paths()["purelib"]
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(bundle), purelib],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.split()
    assert loaded and all(path.startswith(str(bundle)) for path in loaded), loaded


def test_packager_follows_imports():
    spec = importlib.util.spec_from_file_location("package_lambda", PACKAGER)
    packager = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(packager)
    shipped = {str(p.relative_to(packager.SRC)) for p in packager.package_files()}
    assert {"vsr/__init__.py", "vsr/errors.py", "vsr/cloud/s3.py"} <= shipped
