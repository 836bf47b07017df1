"""Archive-style variants of the real-photo clips, made with Debian's FFmpeg CLI: interlaced TFF and
BFF video, hard and soft telecine, anamorphic and letterboxed SD, in MPEG-2 PS, DV AVI, MXF and MOV
with AC-3 or PCM audio."""

from __future__ import annotations

import subprocess
from pathlib import Path

from vsr.media.sample import ClipSpec, make_clip


def ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", *args], check=True, capture_output=True, timeout=300
    )


def base_clip(folder: Path, name: str, **spec) -> Path:
    """A real-photo pan with audio (flash + beep sync marks)."""
    return make_clip(folder / f"{name}.mp4", ClipSpec(**spec))


def interlace(source: Path, out: Path, order: str, *codec: str) -> Path:
    """Weave consecutive frames of a 2x-rate source into fields (motion between the two fields)."""
    mode, field = ("interleave_top", "tff") if order == "tff" else ("interleave_bottom", "bff")
    ffmpeg("-i", str(source), "-vf", f"tinterlace={mode},setfield={field}", *codec, str(out))
    return out


def hard_telecine(source: Path, out: Path, *codec: str) -> Path:
    """3:2 pulldown burnt into the pictures (24000/1001 film -> 30000/1001 frames)."""
    ffmpeg("-i", str(source), "-vf", "telecine=pattern=23", *codec, str(out))
    return out


MPEG2_TFF = ("-c:v", "mpeg2video", "-flags", "+ildct+ilme", "-top", "1", "-q:v", "2")
MPEG2_BFF = ("-c:v", "mpeg2video", "-flags", "+ildct+ilme", "-top", "0", "-q:v", "2")


def soft_telecine(source: Path, out: Path) -> Path:
    """A DVD-style soft-telecined MPEG-2 program stream: 24000/1001 progressive pictures coded
    with repeat-first-field flags in the 3:2 pattern and a 30000/1001 sequence header, as DVD
    authoring tools write them (FFmpeg's encoder cannot, so the flags are set in the bitstream)."""
    es = out.with_suffix(".m2v")
    ffmpeg(
        "-i", str(source), "-an", "-c:v", "mpeg2video", "-flags", "+ildct", "-bf", "0",
        "-g", "12", "-q:v", "2", "-f", "mpeg2video", str(es),
    )  # fmt: skip
    data = bytearray(es.read_bytes())
    picture = 0
    i = data.find(b"\x00\x00\x01")
    while i >= 0 and i + 8 < len(data):
        code = data[i + 3]
        if code == 0xB3:  # sequence header: frame_rate_code 4 = 30000/1001
            data[i + 7] = (data[i + 7] & 0xF0) | 0x04
        elif code == 0xB5 and data[i + 4] >> 4 == 1:  # sequence extension: progressive_sequence=0
            data[i + 5] &= ~0x08 & 0xFF
        elif code == 0xB5 and data[i + 4] >> 4 == 8:  # picture coding extension
            tff, rff = [(1, 1), (0, 0), (0, 1), (1, 0)][picture % 4]
            b = data[i + 7] & ~0x82 & 0xFF
            data[i + 7] = b | (tff << 7) | (rff << 1)
            data[i + 8] |= 0x80  # progressive_frame
            picture += 1
        i = data.find(b"\x00\x00\x01", i + 3)
    es.write_bytes(bytes(data))
    ffmpeg(
        "-fflags", "+genpts", "-r", "30000/1001", "-i", str(es), "-i", str(source),
        "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "ac3", "-f", "vob", str(out),
    )  # fmt: skip
    es.unlink()
    return out


DV_BFF = ("-c:v", "dvvideo", "-pix_fmt", "yuv411p", "-top", "0")
AC3_PS = ("-c:a", "ac3", "-f", "vob")
PCM = ("-c:a", "pcm_s16le", "-ar", "48000")


def variants(folder: Path, width: int = 160, height: int = 120) -> dict[str, Path]:
    """The archive variants of two real-photo pans: one at 60000/1001 (woven into 30000/1001
    interlaced frames, motion between fields) and one 24000/1001 film (telecined)."""
    folder.mkdir(parents=True, exist_ok=True)
    v60 = base_clip(folder, "v60", width=width, height=height, frames=60, rate="60000/1001")
    film = base_clip(folder, "film", width=width, height=height, frames=40, rate="24000/1001")
    made = {"v60": v60, "film": film}
    made["tff_ps"] = interlace(v60, folder / "tff.mpg", "tff", *MPEG2_TFF, *AC3_PS)
    made["tff_mxf"] = interlace(v60, folder / "tff.mxf", "tff", *MPEG2_TFF, *PCM, "-f", "mxf")
    made["bff_ps"] = interlace(v60, folder / "bff.mpg", "bff", *MPEG2_BFF, *AC3_PS)
    dv_source = folder / "v60_720.mp4"
    ffmpeg("-i", str(v60), "-vf", "scale=720:480", "-c:v", "libx264", "-qp", "0", "-c:a", "copy",
           str(dv_source))  # fmt: skip
    made["bff_dv"] = interlace(dv_source, folder / "bff_dv.avi", "bff", *DV_BFF, *PCM)
    made["hard_ps"] = hard_telecine(film, folder / "hard.mpg", *MPEG2_TFF, *AC3_PS)
    made["hard_mxf"] = hard_telecine(film, folder / "hard.mxf", *MPEG2_TFF, *PCM, "-f", "mxf")
    made["soft_ps"] = soft_telecine(film, folder / "soft.mpg")
    made["prog_mov"] = folder / "prog.mov"
    ffmpeg("-i", str(film), "-c:v", "prores_ks", *PCM, str(made["prog_mov"]))
    return made


def letterbox(source: Path, out: Path, top: int, bottom: int, left: int, right: int,
              sar: str = "1") -> Path:  # fmt: skip
    """Bars around the picture (black, limited range), size kept; `sar` tags anamorphic pixels."""
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=width,height", "-of", "csv=p=0", str(source)],
        check=True, capture_output=True, text=True,
    ).stdout.strip().split(",")  # fmt: skip
    w, h = int(probe[0]), int(probe[1])
    inner = f"scale={w - left - right}:{h - top - bottom}"
    ffmpeg("-i", str(source), "-vf", f"{inner},pad={w}:{h}:{left}:{top}:black,setsar={sar}",
           "-c:v", "libx264", "-crf", "12", "-c:a", "copy", str(out))  # fmt: skip
    return out


def cut_short(source: Path, out: Path, keep: float = 0.6) -> Path:
    """A copy of an MP4 that stops part way: its index (moov first) declares the whole title,
    the file holds `keep` of it, as an interrupted copy leaves it."""
    whole = out.with_name(f"{out.stem}-whole.mp4")
    ffmpeg("-i", str(source), "-c", "copy", "-movflags", "+faststart", str(whole))
    data = whole.read_bytes()
    out.write_bytes(data[: int(len(data) * keep)])
    whole.unlink()
    return out


def black_model(out: Path) -> Path:
    """A tiny ESRGAN checkpoint whose weights are all zero: it turns every frame black, a real
    defect QC must catch (and a person may still accept)."""
    import torch
    from spandrel.architectures.ESRGAN import ESRGAN

    net = ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=4)
    torch.save({k: torch.zeros_like(v) for k, v in net.state_dict().items()}, out)
    return out


def eleven_titles(folder: Path, running: int = 9) -> Path:
    """A manifest of eleven titles: nine (`running`) tiny clips that run, one truncated copy, one
    whose model (named in its row) makes black frames. The other rows name no model (the
    command line's --model fills them)."""
    from vsr.media.sample import ClipSpec, make_clip

    folder.mkdir(parents=True, exist_ok=True)
    rows = ["id\tsource\ttype\tmodel"]
    for i in range(running):
        clip = make_clip(folder / f"c{i}.mp4", ClipSpec(width=48, height=32, frames=4 + i % 3))
        rows.append(f"t{i}\t{clip}\tanime\t")
    long = make_clip(folder / "long.mp4", ClipSpec(width=48, height=32, frames=24))
    rows.append(f"cut\t{cut_short(long, folder / 'cut.mp4')}\tanime\t")
    rows.append(f"black\t{folder / 'c0.mp4'}\tanime\t{black_model(folder / 'black.pth')}")
    (folder / "archive.tsv").write_text("\n".join(rows) + "\n")
    return folder / "archive.tsv"


def assert_each_title_has_its_own_verdict(results: Path, stdout: str, running: int = 9) -> None:
    """After `vsr batch` on `eleven_titles`: the nine done, the truncated one refused by the
    preflight and never run, the black one failed by QC with its values, its output and its
    before/after; every failure line names its log."""
    import csv
    import re

    table = {row["id"]: row for row in csv.DictReader((results / "archive.csv").open())}
    done = {v for v, row in table.items() if row["status"] == "done"}
    assert done == {f"t{i}" for i in range(running)}, stdout
    cut = table["cut"]
    assert (cut["status"], cut["stage"]) == ("failed", "preflight"), cut
    assert "cut.mp4: truncated" in cut["reason"] and Path(cut["log"]).is_file()
    assert not (results / "cut" / "logs" / "split.log").exists()
    assert all("cut" not in m.read_text() for m in results.glob(".batch/chunk-*/manifest.tsv"))
    black = table["black"]
    assert (black["status"], black["stage"]) == ("failed", "qc"), black
    assert "qc failed: " in black["reason"] and "black" in black["reason"]
    assert re.search(r"black \d+ \(expected <= [0-9.]+ of the duration\)", black["qc"]), black["qc"]
    assert black["scan"] == "progressive" and black["container"] == "mp4"
    assert Path(black["unpublished"]).is_file() and Path(black["log"]).name == "qc-mp4.log"
    assert (results / ".archive" / "black.png").is_file()  # before/after of the unpublished
    failures = [line for line in stdout.splitlines() if ": failed" in line]
    assert len(failures) == 2 and all("(log: /" in line for line in failures), failures
