"""Names that every part of the project shares. Standard library only: the Lambda ships it.

VIDEO_TYPES: the `type` of a video (manifest column, upload key, `vsr upscale --type`); each has a
default model (`vsr.models.registry.DEFAULT_MODEL`).
STAGES: where a video stands, for every place that reports it: the web UI, `status.json` of S3
jobs (written by the Lambda trigger and the head node), and the local progress reader.
"""

from __future__ import annotations

VIDEO_TYPES = ("anime", "real")

# name -> what the UI shows; in the order a video goes through them.
STAGES = {
    "sending": "sending the video to S3",
    "queued": "queued",
    "waiting": "waiting for the trigger to pick the upload up",
    "probing": "probing the source",
    "splitting": "splitting into shards",
    "upscaling": "upscaling",
    "encoding": "encoding",
    "assembling": "assembling the final video",
    "uploading": "publishing the result to S3",
    "fetching": "fetching the result",
    "done": "done",
    "failed": "failed",
}
FINISHED = ("done", "failed")
