"""vsr: video super-resolution pipeline (Snakemake workflow + models)."""

from pathlib import Path

__version__ = "0.1.0"

# The workflow (Snakefile, rules/, config/) sits at the repository root, above src/.
WORKFLOW_ROOT = Path(__file__).resolve().parents[2]
