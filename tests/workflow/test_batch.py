"""`vsr batch`: chunks of titles, one Snakemake run each, resumable, archive.csv."""

import csv
import subprocess
import sys
from pathlib import Path

from vsr.media.sample import ClipSpec, make_clip

VSR = [sys.executable, "-m", "vsr"]


def batch(manifest: Path, results: Path) -> subprocess.CompletedProcess[str]:
    command = [*VSR, "batch", str(manifest), "-o", str(results), "--chunk", "2"]
    command += ["--parallel", "2", "--config", "intermediate=none", "shard_frames=4"]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)


def test_batch_runs_chunks_writes_archive_csv_and_resumes(tmp_path: Path):
    rows = ["id\tsource\ttype\tmodel"]
    for i in range(3):
        clip = make_clip(tmp_path / f"c{i}.mp4", ClipSpec(width=48, height=32, frames=5 + i))
        rows.append(f"t{i}\t{clip}\tanime\tbicubic")
    manifest = tmp_path / "archive.tsv"
    manifest.write_text("\n".join(rows) + "\n")
    results = tmp_path / "out"

    first = batch(manifest, results)
    assert first.returncode == 0, first.stdout + first.stderr
    lines = [line for line in first.stdout.splitlines() if line.startswith("t")]
    assert sorted(line.split(":")[0] for line in lines) == ["t0", "t1", "t2"]
    assert all(", qc ok, " in line for line in lines), lines
    table = {row["id"]: row for row in csv.DictReader((results / "archive.csv").open())}
    assert [table[f"t{i}"]["frames"] for i in range(3)] == ["5", "6", "7"]
    assert {row["status"] for row in table.values()} == {"done"}
    assert len(list((results / ".batch").glob("chunk-*"))) == 2  # 3 titles, chunks of 2

    # Resume: finished titles are not planned again; a title whose summary is gone runs again.
    (results / "t1" / "summary.json").unlink()
    second = batch(manifest, results)
    assert second.returncode == 0, second.stdout + second.stderr
    chunk = next((results / ".batch").glob("chunk-0000-*")).joinpath("manifest.tsv").read_text()
    assert "t1" in chunk and "t0" not in chunk and "t2" not in chunk
    assert "3/3 titles done" in second.stdout
