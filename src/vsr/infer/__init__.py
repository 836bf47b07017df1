"""Inference: the frame upscaler, its backends, temporal stabilisation and single images."""
