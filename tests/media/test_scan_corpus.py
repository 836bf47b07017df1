"""The scan decision on a ground-truth corpus made from real photos (`helpers.scan_corpus`):
progressive at many sizes, aliased, striped, line-doubled, still and vertically panned; interlaced
TFF/BFF at 480i/576i/1080i woven from field-rate pictures; flags that lie both ways; hard and soft
telecine (B-frames, PS and TS); mixed titles and cadence breaks. Each case's decision is checked
against its truth, per class; a progressive source is never called anything destructive."""

from __future__ import annotations

from collections import defaultdict

import pytest
from helpers.scan_corpus import build

from vsr.media.probe import probe
from vsr.media.scan import scan

DESTRUCTIVE = {"interlaced", "hard_telecine", "mixed"}


@pytest.fixture(scope="session")
def decisions(tmp_path_factory):
    made = build(tmp_path_factory.mktemp("scan_corpus"))
    return {name: (case, scan(path, probe(path)["video"])) for name, (path, case) in made.items()}


def _right(case, result) -> bool:
    if result["type"] != case.truth and result["type"] not in case.accept:
        return False
    return not case.order or result["field_order"] == case.order


def test_corpus_has_every_class(decisions):
    classes = defaultdict(int)
    for case, _ in decisions.values():
        classes[case.truth] += 1
    assert len(decisions) >= 40
    assert classes["progressive"] >= 20 and classes["interlaced"] >= 10
    assert classes["hard_telecine"] >= 4 and classes["soft_telecine"] == 3
    assert classes["mixed"] >= 2


@pytest.mark.parametrize(
    "truth", ["progressive", "interlaced", "hard_telecine", "soft_telecine", "mixed"]
)
def test_each_case_is_called_right(decisions, truth):
    cases = [(c, r) for c, r in decisions.values() if c.truth == truth]
    wrong = [
        f"{c.name}: {r['type']} {r['field_order']} {r['evidence']['window_kinds']}"
        for c, r in cases
        if not _right(c, r)
    ]
    assert not wrong, f"{len(cases) - len(wrong)}/{len(cases)} right; wrong: {wrong}"


def test_no_progressive_source_is_deinterlaced(decisions):
    for case, result in decisions.values():
        if case.truth == "progressive":
            assert result["type"] not in DESTRUCTIVE, (case.name, result["evidence"])


def test_every_decision_carries_confidence_and_evidence(decisions):
    for case, result in decisions.values():
        assert 0.0 <= result["confidence"] <= 1.0
        assert result["evidence"]["windows"] and "fields" in result["evidence"]["windows"][0]
        if result["type"] in DESTRUCTIVE and result["confidence"] < 0.7:
            assert result["review"], case.name  # a destructive call on thin evidence is flagged


def test_thin_evidence_keeps_progressive_and_says_why(decisions):
    case, result = decisions["p_still_flagged"]  # a still picture stored as interlaced MPEG-2
    assert result["type"] == "progressive" and result["confidence"] < 0.5
    assert result["review"] and "no deinterlace" in result["review"][0]
    assert not decisions["p_still"][1]["review"]  # nothing hinted otherwise: nothing to look at


@pytest.mark.parametrize(
    ("name", "kinds"),
    [("mixed_film_video", ["film", "video"]), ("mixed_video_film", ["video", "film"])],
)
def test_mixed_titles_record_their_sections_in_order(decisions, name, kinds):
    """120 film-telecine frames and 90 video frames at 30000/1001: the boundary lies near 4.0 s
    (film first) or 3.0 s (video first), somewhere between two sampling windows."""
    _, result = decisions[name]
    sections = result["sections"]
    assert [s["kind"] for s in sections] == kinds, sections
    first_window = result["evidence"]["windows"][0]["start_s"]
    assert first_window - 0.5 <= sections[0]["start_s"] <= first_window  # the first frame
    boundary = 120 * 1001 / 30000 if kinds[0] == "film" else 90 * 1001 / 30000
    windows = [w["start_s"] for w in result["evidence"]["windows"]]
    gap = max(b - a for a, b in zip(windows, windows[1:], strict=False))
    assert abs(sections[1]["start_s"] - (sections[0]["start_s"] + boundary)) <= gap + 0.1
    assert sections[-1]["end_s"] == pytest.approx(
        sections[0]["start_s"] + 210 * 1001 / 30000, abs=0.05
    )
