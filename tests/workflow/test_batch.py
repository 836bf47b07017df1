"""`vsr batch`: chunks of titles, one Snakemake run each, resumable, archive.csv; one title's
failure never touches another title, and a failed title is something a person can act on."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.archive import assert_each_title_has_its_own_verdict, eleven_titles

from vsr.media.sample import ClipSpec, make_clip

VSR = [sys.executable, "-m", "vsr"]


def batch(manifest: Path, results: Path, *options: str) -> subprocess.CompletedProcess[str]:
    command = [*VSR, "batch", str(manifest), "-o", str(results), *options]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)


def archive(results: Path) -> dict[str, dict[str, str]]:
    return {row["id"]: row for row in csv.DictReader((results / "archive.csv").open())}


def test_batch_runs_chunks_writes_archive_csv_and_resumes(tmp_path: Path):
    rows = ["id\tsource\ttype\tmodel"]
    for i in range(3):
        clip = make_clip(tmp_path / f"c{i}.mp4", ClipSpec(width=48, height=32, frames=5 + i))
        rows.append(f"t{i}\t{clip}\tanime\tbicubic")
    manifest = tmp_path / "archive.tsv"
    manifest.write_text("\n".join(rows) + "\n")
    results = tmp_path / "out"
    options = ["--chunk", "2", "--parallel", "2", "--config", "intermediate=none", "shard_frames=4"]

    first = batch(manifest, results, *options)
    assert first.returncode == 0, first.stdout + first.stderr
    lines = [line for line in first.stdout.splitlines() if line.startswith("t")]
    assert sorted(line.split(":")[0] for line in lines) == ["t0", "t1", "t2"]
    assert all(", qc ok, " in line for line in lines), lines
    table = archive(results)
    assert [table[f"t{i}"]["frames"] for i in range(3)] == ["5", "6", "7"]
    assert {row["status"] for row in table.values()} == {"done"}
    assert len(list((results / ".batch").glob("chunk-*"))) == 2  # 3 titles, chunks of 2

    # Resume: finished titles are not planned again; a title whose summary is gone runs again.
    (results / "t1" / "summary.json").unlink()
    second = batch(manifest, results, *options)
    assert second.returncode == 0, second.stdout + second.stderr
    chunk = next((results / ".batch").glob("chunk-0000-*")).joinpath("manifest.tsv").read_text()
    assert "t1" in chunk and "t0" not in chunk and "t2" not in chunk
    assert "3/3 titles done" in second.stdout


@pytest.fixture(scope="module")
def archive_of_eleven(tmp_path_factory) -> Path:
    return eleven_titles(tmp_path_factory.mktemp("eleven"))


ELEVEN = ["--model", "bicubic", "--cores", "2", "--config", "intermediate=none"]
ELEVEN += ["--config", "shard_frames=8"]  # both --config flags apply


@pytest.mark.slow
def test_one_title_failing_never_touches_another(archive_of_eleven: Path, tmp_path: Path):
    results = tmp_path / "out"
    run = batch(archive_of_eleven, results, *ELEVEN)
    assert run.returncode == 1, run.stdout + run.stderr
    assert_each_title_has_its_own_verdict(results, run.stdout)
    ran = "".join(log.read_text() for log in results.glob(".batch/chunk-*/snakemake.log"))
    assert "checkpoint probe:" not in ran  # the run reuses the preflight's probes
    summary = json.loads((results / "t0" / "summary.json").read_text())
    assert summary["model"] == "bicubic"
    settings = summary["provenance"]["settings"]
    assert (settings["intermediate"], settings["shard_frames"]) == ("none", 8)
    # The plan with the same options said what the run made: model, size and frames per title.
    plan = subprocess.run([*VSR, "plan", str(archive_of_eleven), "-o", str(tmp_path / "plan"),
                           *ELEVEN], capture_output=True, text=True, timeout=600)  # fmt: skip
    assert plan.returncode == 1, plan.stderr  # the truncated title is an error
    planned = {r["id"]: r for r in csv.DictReader((tmp_path / "plan" / "plan.csv").open())}
    made = archive(results)
    for title in [f"t{i}" for i in range(9)] + ["black"]:
        for column in ("model", "size", "frames", "scan", "crop", "container"):
            assert planned[title][column] == made[title][column], (title, column)
    assert planned["cut"]["reason"] == made["cut"]["reason"]

    # After looking, a person accepts the black frames: a rerun redoes only that title's QC.
    waived = archive_of_eleven.read_text().replace("black.pth\n", "black.pth\tblack, frozen\n")
    manifest = archive_of_eleven.with_name("waived.tsv")
    manifest.write_text(waived.replace("model\n", "model\tqc_waive\n", 1))
    again = batch(manifest, results, *ELEVEN)
    assert again.returncode == 1, again.stdout + again.stderr  # the truncated title stays
    table = archive(results)
    assert table["black"]["status"] == "done"
    assert sorted(table["black"]["waived"].split()) == ["black", "frozen"]
    summary = json.loads((results / "black" / "summary.json").read_text())
    assert sorted(summary["provenance"]["qc_waived"]) == ["black", "frozen"]
    assert summary["provenance"]["qc_waived"]["black"]["pass"] is False
    ran = "".join(log.read_text() for log in results.glob(".batch/*/snakemake.log"))
    assert "rule fused" not in ran and "rule split" not in ran, ran[-3000:]
    assert "10/11 titles done" in again.stdout


def test_status_line_counts_as_running_only_titles_a_step_has_started(tmp_path: Path):
    from vsr.layout import video_paths
    from vsr.workflow.batch import progress_line, write_reports
    from vsr.workflow.batch_progress import BatchProgress

    records = {v: {"id": v, "status": "pending"} for v in ("a", "b", "c")}
    progress = BatchProgress(tmp_path, records, list(records), None, progress_line, write_reports)
    progress.chunk_started(["a", "b"])  # one chunk of two; "c" waits for the next
    assert progress.numbers()["running"] == 0
    log = video_paths(tmp_path, "a").log("split.log")
    log.parent.mkdir(parents=True)
    log.write_text("")
    assert progress.numbers()["running"] == 1
    assert "0 done, 0 failed, 1 running of 3" in progress.text()
