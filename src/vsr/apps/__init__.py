"""Applications over the pipeline: the inference endpoint and the web UI."""
