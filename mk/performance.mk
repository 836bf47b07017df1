# Performance measurements (see docs/performance.md).
.PHONY: bench-slurm

# Slurm per-shard overhead and 1 vs 2 concurrent upscale jobs, on the local cluster.
bench-slurm: install cluster-up  ## Slurm per-shard overhead, 1 vs 2 upscale jobs (local cluster)
	$(PY) -m vsr.measure.bench_slurm

.PHONY: bench-scale bench-scale-factor bench-overhead bench-planning bench-pages bench-archive-slurm

# A synthetic 30-minute 480p film with audio through the workflow (bicubic, keep_upscaled false):
# peak disk, peak memory, frame count, A/V offset at the last minute. SCALE_ARGS to change it,
# e.g. SCALE_ARGS="--minutes 2 --size 320x240".
SCALE_ARGS ?= --minutes 30 --size 640x480
bench-scale: install  ## a synthetic 30-minute film: peak disk and memory, A/V offset at the end
	$(PY) -m vsr.measure.scale $(SCALE_ARGS)

# upscale.scale auto (x2 for 1080p->2160p, x3 for 720p->2160p) against x4 then downscaled:
# frames/s, core-seconds per frame, upscale peak memory; and the 360p->720p quality check.
bench-scale-factor: install  ## x2/x3 models against x4 then downscaled: frames/s, core-seconds, memory
	$(PY) -m vsr.measure.scale_factor --frames 2

# Core-seconds per output frame outside the model, both intermediate designs, vs FFmpeg's floor.
bench-overhead: install  ## core-seconds per frame outside the model vs FFmpeg's floor
	$(PY) -m vsr.measure.overhead --frames 144 --shard-frames 144

# `snakemake -n` time for growing numbers of titles (337 shards each, synthetic checkpoints).
bench-planning: install  ## snakemake -n time for growing numbers of titles
	$(PY) -m vsr.measure.planning --titles 1 3 10 30 100 --shards 337

# plan.html and archive.html for 1,000 generated titles in headless Chromium: page weight, first
# paint. PAGES_PICTURE: a contact sheet every title's picture copies (docs/archive.md, section 6).
bench-pages: install  ## report pages for 1,000 titles: weight and time to first paint
	$(PY) -m vsr.measure.report_pages --titles 1000 $(if $(PAGES_PICTURE),--picture $(PAGES_PICTURE))

# 20 short titles through the Slurm profile: run wall time, Slurm jobs, sum of job wall times.
bench-archive-slurm: install cluster-up  ## 20 short titles through the Slurm profile
	$(PY) -m vsr.measure.archive_slurm --titles 20 --ungrouped

.PHONY: gpu-check

# The first thing to run on a new GPU (under 5 minutes; never in CI): the node's driver against
# the torch build, every model at precision auto, 10-bit at fp16, DAT, colour on the device,
# tiles, an out-of-memory retry, ONNX Runtime/TensorRT where installed, the bicubic floor and a
# throughput table; one PASS/FAIL line each, bench/gpu-<gpu>.json. On a CPU:
# GPU_CHECK_ARGS=--dry-run runs every check's mechanism in tiny form.
gpu-check: install $(VENV)/.installed-nodeps  ## the first run on a new GPU: one PASS/FAIL line per CUDA check (--dry-run on a CPU)
	$(PY) -m vsr.measure.gpu_check $(GPU_CHECK_ARGS)
