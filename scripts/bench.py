"""`make bench`: see vsr.measure.bench (model-only vs pipeline vs per-frame vs bicubic frames/s)."""

import sys

from vsr.measure.bench import main

sys.exit(main(sys.argv[1:]))
