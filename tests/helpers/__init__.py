"""Helpers shared by the tests: running the workflow, reading media, stand-in services."""
