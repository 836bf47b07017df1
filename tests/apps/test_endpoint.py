"""The SageMaker-style endpoint, run as its container runs it (infra/endpoint/serve), over HTTP.

A real server process on a free loopback port, the real realesr-animevideov3 weights, a real
photo crop (skimage.data); bad payloads must get 4xx with a message, and the server must live on.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from helpers.endpoint import upscale_remote
from helpers.processes import free_port, stop_process
from PIL import Image

from vsr import WORKFLOW_ROOT

REPO = WORKFLOW_ROOT
SERVE = REPO / "infra" / "endpoint" / "serve"
MODEL = "realesr-animevideov3"
MAX_BYTES = 300_000
MAX_PIXELS = 200 * 200
START_TIMEOUT_S = 180


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return np.ascontiguousarray(skimage.data.astronaut()[60:124, 180:276])  # 64x96 face crop


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {
        **os.environ,
        "VSR_PYTHON": sys.executable,
        "ENDPOINT_HOST": "127.0.0.1",
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "VSR_MODEL": MODEL,
        "VSR_DEVICE": "cpu",
        "VSR_MAX_BYTES": str(MAX_BYTES),
        "VSR_MAX_PIXELS": str(MAX_PIXELS),
    }
    log = tmp_path_factory.mktemp("endpoint") / "serve.log"
    with log.open("w") as output:  # a file, not a pipe: a full pipe would block the server
        process = subprocess.Popen([str(SERVE)], env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until_ready(process, port, log)
        yield "127.0.0.1", port
    finally:
        stop_process(process)


def wait_until_ready(process: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"endpoint exited with {process.returncode}:\n{log.read_text()}")
        try:
            status, _, _ = request(("127.0.0.1", port), "GET", "/ping")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"endpoint not ready after {START_TIMEOUT_S} s")


def request(
    address: tuple[str, int], method: str, path: str, body: bytes | None = None, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(*address, timeout=120)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def error_message(body: bytes) -> str:
    message = json.loads(body)["error"]
    assert message.strip(), "a 4xx must say why"
    return message


def test_ping_says_ok_and_names_the_model(endpoint):
    status, headers, body = request(endpoint, "GET", "/ping")
    assert status == 200
    assert json.loads(body) == {"status": "ok", "model": MODEL}


def test_invocation_returns_the_models_4x_png(endpoint, photo):
    status, headers, body = request(
        endpoint, "POST", "/invocations", png_bytes(photo), **{"Content-Type": "image/png"}
    )
    assert status == 200, body[:300]
    assert headers["Content-Type"] == "image/png"
    assert headers["X-Vsr-Model"] == MODEL
    result = np.asarray(Image.open(io.BytesIO(body)))
    assert result.shape == (photo.shape[0] * 4, photo.shape[1] * 4, 3)
    assert result.dtype == np.uint8

    from vsr.infer.upscaler import Upscaler

    expected = Upscaler(MODEL, device="cpu").upscale(photo[np.newaxis])[0]
    difference = np.abs(result.astype(int) - expected.astype(int))
    assert difference.max() <= 2, "the server must return the model's own output"
    # ...and that output is a real upscale, not a resize: it differs from bicubic.
    bicubic = np.asarray(Image.fromarray(photo).resize(result.shape[1::-1], Image.BICUBIC))
    assert np.abs(result.astype(int) - bicubic.astype(int)).mean() > 1.0


def test_jpeg_on_request(endpoint, photo):
    status, headers, body = request(
        endpoint, "POST", "/invocations", png_bytes(photo), Accept="image/jpeg"
    )
    assert status == 200
    assert headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(body)).size == (photo.shape[1] * 4, photo.shape[0] * 4)


def test_client_helper_round_trip(endpoint, photo):
    host, port = endpoint
    result = upscale_remote(f"http://{host}:{port}", photo)
    assert result.shape == (256, 384, 3)


@pytest.mark.parametrize(
    ("body", "status", "phrase"),
    [
        (b"", 400, "empty payload"),
        (b"this is not an image, just text", 415, "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, 415, "not an image"),
    ],
    ids=["empty", "text", "png-signature-only"],
)
def test_bad_payloads_get_4xx_with_a_message(endpoint, body, status, phrase):
    got, headers, answer = request(endpoint, "POST", "/invocations", body)
    assert got == status
    assert headers["Content-Type"] == "application/json"
    assert phrase in error_message(answer)


def test_truncated_image_is_refused(endpoint, photo):
    data = png_bytes(photo)
    got, _, answer = request(endpoint, "POST", "/invocations", data[: len(data) // 2])
    assert got == 400
    assert "truncated or corrupt" in error_message(answer)


def test_too_many_pixels_is_refused(endpoint):
    big = np.zeros((250, 250, 3), np.uint8)  # a few kB of PNG, over the pixel limit
    got, _, answer = request(endpoint, "POST", "/invocations", png_bytes(big))
    assert got == 413
    assert f"limit is {MAX_PIXELS} pixels" in error_message(answer)


def test_too_many_bytes_is_refused_before_reading_the_body(endpoint):
    # Only the headers are sent: the server must answer from Content-Length alone.
    with socket.create_connection(endpoint, timeout=30) as raw:
        raw.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
            + f"Content-Length: {MAX_BYTES + 1}\r\n\r\n".encode()
        )
        chunks = []
        while chunk := raw.recv(65536):  # the server closes the connection after answering
            chunks.append(chunk)
        answer = b"".join(chunks).decode()
    assert answer.startswith("HTTP/1.1 413")
    assert f"the limit is {MAX_BYTES}" in answer


def test_unknown_path_is_404_and_server_still_serves(endpoint, photo):
    assert request(endpoint, "GET", "/nope")[0] == 404
    assert request(endpoint, "POST", "/nope", b"x")[0] == 404
    assert request(endpoint, "GET", "/ping")[0] == 200
