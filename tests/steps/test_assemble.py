"""The `assemble` step: the segments' video, the source's audio and subtitles copied untouched."""

from __future__ import annotations

import av
from helpers.media import count_frames, ffprobe, streams_of
from helpers.steps import CLIP

from vsr.util import read_json


def packets(path, kind):
    with av.open(str(path)) as container:
        stream = next(s for s in container.streams if s.type == kind)
        return [bytes(p) for p in container.demux(stream) if p.size]


def test_final_holds_every_frame_and_the_sources_streams(chain):
    assert count_frames(chain.final) == CLIP.frames
    kinds = [stream["codec_type"] for stream in ffprobe(chain.final)["streams"]]
    assert kinds.count("video") == 1 and "audio" in kinds and "subtitle" in kinds
    (video,) = streams_of(ffprobe(chain.final), "video")
    assert (video["width"], video["height"]) == (4 * CLIP.width, 4 * CLIP.height)


def test_audio_is_copied_bit_for_bit(chain):
    assert packets(chain.final, "audio") == packets(chain.source, "audio")


def test_timing_record(chain):
    assert read_json(chain.video.timing("assemble-mkv"))["step"] == "assemble"
