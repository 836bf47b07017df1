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

.PHONY: gpu-bundle gpu-bundle-test

# A lent GPU machine (docs/performance.md, "A lent GPU machine"): Python 3.12 with torch, no
# network, no apt, no ffmpeg binary, 64 MiB per call. The wheels it lacks (spandrel,
# platformdirs, PyAV) and only the weight files measured there, in parts of at most
# GPU_BUNDLE_LIMIT_MIB each together with the working tree: build/gpu-bundle/partN, for `carry`.
GPU_BUNDLE := build/gpu-bundle
GPU_BUNDLE_LIMIT_MIB ?= 60
gpu-bundle: install $(VENV)/.installed-nodeps  ## parts for a lent GPU machine: wheels + weights, each <= 60 MiB with the tree
	$(PY) scripts/gpu_bundle.py --out $(GPU_BUNDLE) --limit-mib $(GPU_BUNDLE_LIMIT_MIB)

# The runner's CPU dry mode (scripts/gpu_run.sh PART --dry-run), every part, in a virtualenv
# holding only the GPU image's packages at its versions (torch 2.11, torchvision 0.26,
# transformers 5.17: a few GB from PyPI once; they run on the CPU) plus the part; then the tests
# of the GPU code paths on that stack, with part 1 installed. What the GPU machine will run,
# short of CUDA. Minutes: not in CI.
IMAGE_VENV := build/image-venv
IMAGE_PACKAGES := torch==2.11.0 torchvision==0.26.0 transformers==5.17.0 numpy scipy \
	scikit-image pillow opencv-python-headless einops onnx onnxruntime pyyaml safetensors pandas \
	psutil pytest
GPU_PATH_TESTS := tests/infer/test_device.py tests/infer/test_gpu_paths.py \
	tests/infer/test_colour_device.py tests/measure/test_gpu_check.py \
	tests/measure/test_gpu_bundle.py tests/models/test_transformers.py
$(IMAGE_VENV)/.installed:
	python3 -m venv $(IMAGE_VENV)
	$(IMAGE_VENV)/bin/pip install -q $(IMAGE_PACKAGES)
	touch $@

gpu-bundle-test: gpu-bundle $(IMAGE_VENV)/.installed  ## every part's runner dry run, then the GPU-path tests, on the image's stack (minutes)
	@for part in $(GPU_BUNDLE)/part*; do \
		OUT=build/gpu-run VSR_SITE=build/gpu-run/site-$$(basename $$part) \
			VSR_PYTHON=$(IMAGE_VENV)/bin/python scripts/gpu_run.sh $$part --dry-run || exit 1; \
	done
	PYTHONPATH=$(CURDIR)/src:$(CURDIR)/build/gpu-run/site-part1 $(IMAGE_VENV)/bin/python -m pytest \
		-p no:cacheprovider -q -o addopts="" $(GPU_PATH_TESTS)
	@echo "gpu-bundle-test: every part passed its CPU dry run and the GPU-path tests passed"
