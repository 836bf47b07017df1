"""`make bench-scale` in small: a 2-minute film with audio (tiny frames, so it runs in CI time)
through the workflow with `bicubic` and keep_upscaled false. Length-bound properties: every
frame arrives, no A/V drift at the last minute, disk and memory bounded."""

from pathlib import Path

from vsr.measure.scale import make_film, run_film


def test_two_minute_film_keeps_frames_sync_disk_and_memory(tmp_path: Path):
    film = make_film(tmp_path / "film.mp4", minutes=2, width=64, height=48)
    result = run_film(
        film, tmp_path / "run", intermediate="none", preset="veryfast", shard_frames=720, cores=2
    )
    assert result["frames_source"] == result["frames_output"] == 2 * 60 * 24
    assert result["shards"] == 4
    assert result["last_flash_s"] == 90.0  # the flash one minute before the end
    # The output's flash and beep are as far apart as the source's (window granularity ~1 ms).
    assert abs(result["av_offset_last_minute_ms"] - result["source_av_offset_ms"]) < 2
    assert abs(result["av_offset_last_minute_ms"]) < 1000 / 24
    # Disk: source + lossless low-res shards + segments + final; no 4x intermediates.
    assert result["peak_disk_mb"] < 10 * (result["source_mb"] + result["final_mb"]) + 20
    # Memory: per-shard jobs; the streaming steps stay small whatever the length.
    stages = result["stage_peak_rss_mb"]
    assert stages["split"] < 400 and stages["assemble"] < 400, stages
