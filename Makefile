# Two commands do everything on a fresh Debian machine:
#   make demo   install, build the bundled sample clip, upscale it with the local profile
#   make test   install, run every test
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
APT_PACKAGES := ffmpeg libjemalloc2

.PHONY: help install system-deps demo test lint bench clean

# Every target says what it does on its own line, after `## `; help prints those lines, per file.
help:  ## list every target with its description
	@awk -F ':.*## ' 'FNR == 1 { printf "%s%s:\n", (NR > 1 ? "\n" : ""), FILENAME } \
		/^[A-Za-z0-9_.-]+:.*## / { printf "  make %-20s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

system-deps:  ## the Debian packages the project needs (ffmpeg, libjemalloc2)
	@scripts/install_system_deps.sh $(APT_PACKAGES)

$(STAMP): requirements.txt pyproject.toml
	@$(MAKE) --no-print-directory system-deps
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $@

install: $(STAMP)  ## the virtualenv .venv/ from requirements.txt, with the package

demo: install  ## install, build the bundled sample clip, upscale it with the local profile
	$(VENV)/bin/vsr demo

# Three workers on two cores: the Slurm tests (one worker, tests/helpers/scheduling.py) mostly
# wait on jobs, so two more workers keep both cores busy with everything else.
TEST_WORKERS ?= 3
test: install  ## install, run every test
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadscope --durations=15 tests

lint: install  ## ruff, ruff format, snakefmt and snakemake --lint
	$(VENV)/bin/ruff check src tests scripts
	$(VENV)/bin/ruff format --check src tests scripts
	$(VENV)/bin/snakefmt --check Snakefile rules
	$(PY) -c "from vsr.workflow.run import demo_sample; demo_sample()"  # the default manifest's clip
	$(VENV)/bin/snakemake --lint --cores 1

bench: install  ## frames/s of the pipeline vs model-only, per-frame and bicubic (bench/results.*)
	$(PY) scripts/bench.py

clean:  ## delete demo, results, work, .snakemake and bench/out
	rm -rf demo results work .snakemake bench/out

# Per-area targets (Slurm cluster, AWS stand-ins, infra checks) live in mk/*.mk.
-include mk/*.mk
