"""Which scale of a model family a title gets, and the resize after the model (no video here:
the choice is geometry, made from the probe's picture settings)."""

from __future__ import annotations

import pytest

from vsr.defaults import section
from vsr.errors import VsrError
from vsr.infer.memory import activation_bytes_per_pixel, upscale_job_mb
from vsr.media.model_scale import choose_scale, resize_after
from vsr.models.registry import REGISTRY, at_scale

FAMILY = (2, 3, 4)


def probe(width, height, size=None, sar="1/1", aspect="keep", crop=None, pad=False, rotation=0):
    video = {"width": width, "height": height, "sample_aspect_ratio": sar, "rotation": rotation}
    picture = {"settings": {"size": size, "aspect": aspect, "crop_pad": pad}, "crop": crop}
    if crop:
        picture.update(width=crop["w"], height=crop["h"])
    return {"video": video, "picture": picture}


@pytest.mark.parametrize(
    ("info", "scale", "resize"),
    [
        (probe(1920, 1080, "3840x2160"), 2, ("none", "3840x2160", "3840x2160")),
        (probe(1280, 720, "3840x2160"), 3, ("none", "3840x2160", "3840x2160")),
        (probe(640, 360, "1280x720"), 2, ("none", "1280x720", "1280x720")),
        (probe(1920, 1080), 4, ("none", "7680x4320", "7680x4320")),  # no size: x4
        (probe(1920, 1080, "1280x720"), 2, ("lanczos", "3840x2160", "1280x720")),
        # NTSC 4:3 to square pixels in 1080p: 1440x1080 needs x3 (x2 gives 960 lines).
        (probe(720, 480, "1920x1080", "8/9", "square"), 3, ("lanczos", "2160x1440", "1440x1080")),
        # Letterbox cropped off: 720x360 of picture fits 1920x960, x3 covers it.
        (
            probe(720, 480, "1920x1080", crop={"w": 720, "h": 360, "x": 0, "y": 60}),
            3,
            ("lanczos", "2160x1080", "1920x960"),
        ),
        # ...and padded back: the full 4:3 frame at x3 is 2160x1440, shown at 1620x1080.
        (
            probe(720, 480, "1920x1080", crop={"w": 720, "h": 360, "x": 0, "y": 60}, pad=True),
            3,
            ("lanczos", "2160x1440", "1620x1080"),
        ),
        # Stored 1080x1920, shown turned (1920x1080): the box fits the turned picture.
        (probe(1080, 1920, "2160x3840", rotation=90), 2, ("lanczos", "3840x2160", "2160x1216")),
        (probe(1080, 1920, "3840x2160", rotation=90), 2, ("none", "3840x2160", "3840x2160")),
        # Nothing reaches: the largest scale, resized up.
        (probe(320, 240, "3840x2160"), 4, ("lanczos", "1280x960", "2880x2160")),
    ],
)
def test_auto_takes_the_smallest_scale_that_reaches_the_size(info, scale, resize):
    assert choose_scale(FAMILY, "auto", info, "m") == scale
    record = resize_after(info, scale)
    assert (record["resize"]["kind"], record["resize"]["from"], record["resize"]["to"]) == resize
    width, height = (int(v) for v in resize[1].split("x"))
    assert record["resize"]["factor"] == round(int(resize[2].split("x")[1]) / height, 4)


def test_forced_scales_and_single_scale_models():
    info = probe(1920, 1080, "3840x2160")
    assert choose_scale(FAMILY, 4, info, "m") == 4
    assert choose_scale(FAMILY, "3", info, "m") == 3
    assert choose_scale((4,), "auto", info, "m") == 4  # an x4-only model still runs
    assert choose_scale((2,), "auto", probe(64, 48), "m") == 2  # no x4 in the family
    with pytest.raises(VsrError) as caught:
        choose_scale((4,), 2, info, "realesrgan-x4plus")
    assert str(caught.value) == "realesrgan-x4plus: has no x2 model (it has x4); set upscale.scale"
    with pytest.raises(VsrError, match="use auto|2|3|4"):
        choose_scale(FAMILY, 8, info, "m")


def test_memory_estimates_follow_the_scale():
    # Compact's body runs at the input's size: x2 saves only the output-sized part.
    compact = REGISTRY["realesr-animevideov3"].bytes_per_output_pixel
    x2, x4 = (activation_bytes_per_pixel(compact, s) for s in (2, 4))
    assert x4 == 1_600 and 1_200 < x2 < x4
    # The shipped animevideov3 x2 is its x4 network, then a resize: it costs more than x4.
    assert activation_bytes_per_pixel(compact, 2, net_scale=4) > x4
    floor = REGISTRY["bicubic"]
    assert activation_bytes_per_pixel(floor.bytes_per_output_pixel, 2) == 400 / 4  # all output
    settings = section("upscale")
    job = {s: upscale_job_mb(1920, 1080, at_scale(floor, s), settings) for s in (2, 4)}
    assert job[4] - job[2] > 900  # 4x fewer output-sized bytes per frame
