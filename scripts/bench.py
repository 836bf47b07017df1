"""`make bench`: see vsr.bench (model-only vs pipeline vs per-frame vs bicubic frames/s)."""

import sys

from vsr.bench import main

sys.exit(main(sys.argv[1:]))
