"""`vsr ui` in a real browser: login, bad uploads, a real upscale, live progress, download."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytest.register_assert_rewrite("helpers.ui", "helpers.aws")
from helpers.aws import MINISTACK, Aws  # noqa: E402
from helpers.ui import (  # noqa: E402
    ARTIFACTS,
    UiServer,
    clean_env,
    queue_for_uploads,
    run_ui,
    run_watch,
)

from vsr.media.sample import ClipSpec, make_clip  # noqa: E402

pytest_plugins = ["helpers.ui", "helpers.aws"]
pytestmark = pytest.mark.timeout(300)

USER, PASSWORD = "demo", "correct horse battery"
MODEL = "realesr-animevideov3"
CLIP = ClipSpec(width=64, height=36, frames=8)
RUN_TIMEOUT_MS = 200_000
WORKING_STATES = {"probing", "splitting", "upscaling", "encoding", "assembling"}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> UiServer:
    workdir = tmp_path_factory.mktemp("ui") / "tasks"
    env = clean_env(GRADIO_USERNAME=USER, GRADIO_PASSWORD=PASSWORD)
    # A 1 MiB limit makes "too large" cheap to test; shards of 4 frames give live shard progress.
    with run_ui(workdir, env, "--max-upload-mb", "1", "--cores", "2", "--shard-frames", "4") as ui:
        yield ui


def log_in(page, url: str, user: str = USER, password: str = PASSWORD) -> None:
    page.goto(url)
    page.get_by_label("username").fill(user)
    page.get_by_label("password").fill(password)
    page.get_by_role("button", name="Login").click()
    if password == PASSWORD and user == USER:
        page.locator("#start").wait_for()  # the app's page, loaded after the login


def upload_and_start(page, path: Path, video_type: str = "anime") -> None:
    page.locator("#upload input[type=file]").set_input_files(str(path))
    # The download link to the server's copy: the upload is complete.
    page.locator(f"#upload a[download={json.dumps(path.name)}]").wait_for(timeout=60_000)
    # Through the DOM, not a pointer at their position: under the full suite's load a Gradio
    # status overlay has covered this column for longer than the 90 s wait (not seen alone).
    page.locator(f"#type input[value={json.dumps(video_type)}]").dispatch_event("click")
    # Changing the type picks its default model (a round trip to the server): wait for it.
    default = MODEL if video_type == "anime" else "realesrgan-x4plus"
    expect(page.locator("#model input")).to_have_value(re.compile(re.escape(default)))
    page.locator("#start").dispatch_event("click")


def follow_progress(page, screenshot: str) -> list[str]:
    """The task states the page showed, until done or failed; a screenshot while it works."""
    seen, deadline = [], time.monotonic() + RUN_TIMEOUT_MS / 1000
    progress = page.locator("#progress .vsr-progress")
    while time.monotonic() < deadline:
        state = progress.get_attribute("data-state")
        if not seen or seen[-1] != state:
            seen.append(state)
            if state == "upscaling" or (state in WORKING_STATES and len(seen) == 2):
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / screenshot))
        if state in ("done", "failed"):
            break
        time.sleep(0.3)
    return seen


def video_size(path: Path) -> tuple[int, int, int]:
    video = next(s for s in ffprobe(path)["streams"] if s["codec_type"] == "video")
    return video["width"], video["height"], int(video["nb_frames"])


def ffprobe(path: Path) -> dict:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_refuses_to_start_without_credentials_unless_local_only(tmp_path):
    def ui(*args: str, **env: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "vsr", "ui", "--workdir", str(tmp_path), *args]
        return subprocess.run(
            command, env=clean_env(**env), capture_output=True, text=True, timeout=60
        )

    refused = ui()
    assert refused.returncode == 2
    assert "GRADIO_USERNAME: not set" in refused.stderr and "--local-only" in refused.stderr
    half = ui(GRADIO_USERNAME=USER)
    assert half.returncode == 2 and "GRADIO_PASSWORD: not set" in half.stderr
    exposed = ui("--local-only", "--host", "0.0.0.0")
    assert exposed.returncode == 2 and "binds loopback only" in exposed.stderr


def test_local_only_serves_without_login_on_loopback(tmp_path):
    with run_ui(tmp_path / "tasks", clean_env(), "--local-only") as ui:
        assert ui.url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(ui.url + "config", timeout=10) as response:
            config = json.load(response)
    assert not config.get("auth_required")
    assert any(c.get("props", {}).get("elem_id") == "start" for c in config["components"])


def test_wrong_password_is_refused(server, page):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(server.url + "config", timeout=10)
    assert refused.value.code == 401
    log_in(page, server.url, password="wrong password")
    page.get_by_text("Incorrect Credentials").wait_for()
    assert page.locator("#start").count() == 0
    log_in(page, server.url, user="someone", password=PASSWORD)
    page.get_by_text("Incorrect Credentials").wait_for()
    assert page.locator("#start").count() == 0


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("notes.mp4", b"these are notes, not a video\n", "notes.mp4: not a readable video"),
        ("empty.mp4", b"", "empty.mp4: file is empty (0 bytes)"),
    ],
)
def test_bad_upload_shows_the_problem_and_starts_nothing(
    server, page, tmp_path, name, content, expected
):
    bad = tmp_path / name
    bad.write_bytes(content)
    before = server.task_folders()
    log_in(page, server.url)
    upload_and_start(page, bad)
    error = page.locator('#message .vsr-message[data-kind="error"]')
    error.wait_for()
    assert expected in error.inner_text()
    time.sleep(1.5)  # a tick of the page's timer: no task may appear
    assert server.task_folders() == before
    assert page.locator('#progress .vsr-progress[data-state="none"]').count() == 1


def test_too_large_upload_is_refused(server, page, tmp_path):
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (2 * 1024 * 1024))
    before = server.task_folders()
    log_in(page, server.url)
    page.locator("#upload input[type=file]").set_input_files(str(big))
    # Gradio refuses the file before sending it (its max_file_size is the configured limit).
    refusal = 'exceed the maximum allowed size of 1.0 Mb: "big.mp4"'
    expect(page.locator("body")).to_contain_text(refusal)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui-too-large.png"))
    page.locator("#start").click()
    error = page.locator('#message .vsr-message[data-kind="error"]')
    expect(error).to_contain_text("choose a video file first")
    time.sleep(1.5)
    assert server.task_folders() == before


@pytest.mark.slow
def test_upscales_an_upload_with_live_progress_and_a_4x_download(server, page, tmp_path):
    clip = make_clip(tmp_path / "my clip.mp4", CLIP)
    log_in(page, server.url)
    upload_and_start(page, clip)
    page.locator('#message .vsr-message[data-kind="ok"]').wait_for()

    seen = follow_progress(page, "ui-progress.png")
    assert seen[-1] == "done", f"{page.locator('#progress').inner_text()}\n{server.log_text()}"
    assert set(seen) & WORKING_STATES, f"no live progress seen: {seen}"
    expect(page.locator("#progress")).to_contain_text(f"frames/s over {CLIP.frames} frames")

    page.locator("#compare img").first.wait_for()
    assert page.locator("#compare img").count() == 2
    assert page.locator("#before video").count() == 1
    assert page.locator("#after video").count() == 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui-result.png"), full_page=True)
    expect(page.locator("#tasks")).to_contain_text(clip.name)
    expect(page.locator("#tasks")).to_contain_text("done")

    with page.expect_download() as download_info:
        page.locator("#download").click()
    downloaded = tmp_path / "download.mp4"
    download_info.value.save_as(downloaded)
    assert video_size(downloaded) == (4 * CLIP.width, 4 * CLIP.height, CLIP.frames)

    # A new session follows no task; clicking the task in the list shows its result again.
    other = page.context.new_page()
    other.goto(server.url)
    expect(other.locator("#progress .vsr-progress")).to_have_attribute("data-state", "none")
    other.locator("#tasks").get_by_role("gridcell", name=clip.name).click()
    expect(other.locator("#progress .vsr-progress")).to_have_attribute("data-state", "done")
    expect(other.locator("#compare img")).to_have_count(2)


@pytest.mark.slow
def test_s3_mode_uploads_follows_status_json_and_links_a_presigned_download(
    aws: Aws, page, tmp_path
):
    s3, sqs = aws.client("s3"), aws.client("sqs")
    inbox, outbox = aws.bucket("ui-in"), aws.bucket("ui-out")
    queue = queue_for_uploads(s3, sqs, inbox, f"vsr-ui-{aws.tag}")
    env = clean_env(GRADIO_USERNAME=USER, GRADIO_PASSWORD=PASSWORD, **aws.env)
    clip = make_clip(tmp_path / "s3 clip.mp4", CLIP)
    (tmp_path / "jobs").mkdir()
    with (
        run_watch(env, queue, f"s3://{outbox}/results", tmp_path / "jobs"),
        run_ui(tmp_path / "tasks", env, "--s3-input", f"s3://{inbox}/uploads",
               "--s3-output", f"s3://{outbox}/results") as ui,
    ):  # fmt: skip
        log_in(page, ui.url)
        expect(page.locator("#model input")).to_be_disabled()
        upload_and_start(page, clip)
        seen = follow_progress(page, "ui-s3-progress.png")
        assert seen[-1] == "done", f"{seen}\n{ui.log_text()}"
        task_id = page.locator("#progress .vsr-progress").get_attribute("data-task")
        link = page.locator("#download-link")
        href = link.get_attribute("href")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "ui-s3-result.png"), full_page=True)
        assert page.locator("#compare img").count() == 2

    uploaded = s3.list_objects_v2(Bucket=inbox, Prefix=f"uploads/anime/{task_id}/")
    assert [o["Key"] for o in uploaded["Contents"]] == [f"uploads/anime/{task_id}/{clip.name}"]
    status = json.loads(
        s3.get_object(Bucket=outbox, Key=f"results/{task_id}/status.json")["Body"].read()
    )
    assert status["state"] == "done"
    assert href.startswith(MINISTACK) and "X-Amz-Signature=" in href
    downloaded = tmp_path / "download.mp4"
    with urllib.request.urlopen(href, timeout=30) as response:
        downloaded.write_bytes(response.read())
    assert video_size(downloaded) == (4 * CLIP.width, 4 * CLIP.height, CLIP.frames)
    tampered = href.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(tampered, timeout=30)
