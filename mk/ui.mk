# Gradio demo UI. Login from GRADIO_USERNAME/GRADIO_PASSWORD; without them:
#   make ui UI_ARGS=--local-only          (no login, 127.0.0.1 only)
# S3 mode: UI_ARGS="--s3-input s3://BUCKET/uploads --s3-output s3://BUCKET/results"
.PHONY: ui ui-test

UI_ARGS ?=

ui: install  ## the web UI (UI_ARGS, e.g. --local-only)
	$(VENV)/bin/vsr ui $(UI_ARGS)

# Browser tests only (headless Debian Chromium; installed by the test fixture when missing).
ui-test: install  ## the browser tests of the web UI
	$(PY) -m pytest -q tests/apps/test_ui.py
