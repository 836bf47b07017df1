"""vsr: video super-resolution pipeline (Snakemake workflow + models)."""

import os
from pathlib import Path

__version__ = "0.1.0"

# The workflow (Snakefile, rules/, config/, profiles/) sits at the repository root, above src/.
# A package installed without its checkout has no workflow beside it: VSR_WORKFLOW_ROOT names
# one then (commands that need it say so; see vsr.workflow.snakemake.snakefile).
WORKFLOW_ROOT = Path(os.environ.get("VSR_WORKFLOW_ROOT") or Path(__file__).resolve().parents[2])
