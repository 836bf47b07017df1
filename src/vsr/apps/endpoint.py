"""SageMaker-style inference server: `GET /ping`, `POST /invocations` (an image -> its 4x image).

    python -m vsr.apps.endpoint [--host 0.0.0.0] [--port 8080] [--model NAME]

The container's `serve` entry point (infra/endpoint/serve) runs this. Settings come from the
environment, as SageMaker passes them: VSR_MODEL (the registry's default for anime),
VSR_DEVICE (auto), VSR_PRECISION (fp32), VSR_TILE (0 = automatic), VSR_MAX_BYTES (request
body limit, 16 MiB), VSR_MAX_PIXELS (input size limit, 1920x1080), SAGEMAKER_BIND_TO_PORT (8080).

A request body is a PNG/JPEG/WebP/... image; the answer is a PNG (or a JPEG when the request
says `Accept: image/jpeg`). Bad payloads get 4xx and a JSON body {"error": "..."} saying why.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from vsr.models.registry import DEFAULT_MODEL

DEFAULT_PORT = 8080
DEFAULT_MAX_BYTES = 16 * 2**20
DEFAULT_MAX_PIXELS = 1920 * 1080


class PayloadError(Exception):
    """A request the server refuses; carries the HTTP status and the reason."""

    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Limits:
    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS


def decode_image(body: bytes, limits: Limits) -> np.ndarray:
    """Request bytes -> (H,W,3) uint8 RGB, refusing empty, undecodable or oversized images."""
    if not body:
        raise PayloadError(HTTPStatus.BAD_REQUEST, "empty payload: send an image as the body")
    try:
        image = Image.open(io.BytesIO(body))
        width, height = image.size  # read from the header, before decoding any pixels
    except (UnidentifiedImageError, OSError) as error:
        problem = "body is not an image this server can decode (send PNG, JPEG, WebP, ...)"
        raise PayloadError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, problem) from error
    if width * height > limits.max_pixels:
        raise PayloadError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"image is {width}x{height} pixels; the limit is {limits.max_pixels} pixels",
        )
    try:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        problem = f"truncated or corrupt image: {error}"
        raise PayloadError(HTTPStatus.BAD_REQUEST, problem) from error


def encode_image(pixels: np.ndarray, accept: str) -> tuple[bytes, str]:
    """(H,W,3) uint8 -> (bytes, content type): JPEG when asked for, PNG otherwise."""
    buffer = io.BytesIO()
    image = Image.fromarray(pixels, "RGB")
    if "image/jpeg" in accept:
        image.save(buffer, format="JPEG", quality=95)
        return buffer.getvalue(), "image/jpeg"
    image.save(buffer, format="PNG", compress_level=1)  # speed over size: it is a response
    return buffer.getvalue(), "image/png"


class Model:
    """The upscaler, loaded once; one request at a time runs on it."""

    def __init__(self, name: str, device: str, precision: str, tile: int):
        from vsr.infer.upscaler import Upscaler  # torch loads here, not at import of this module

        self.upscaler = Upscaler(name, device=device, precision=precision, tile=tile)
        self.name = name
        self.lock = threading.Lock()

    def upscale(self, pixels: np.ndarray) -> np.ndarray:
        with self.lock:
            return self.upscaler.upscale(pixels[np.newaxis])[0]


class EndpointServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], model: Model, limits: Limits):
        super().__init__(address, EndpointHandler)
        self.model = model
        self.limits = limits


class EndpointHandler(BaseHTTPRequestHandler):
    server: EndpointServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path != "/ping":
            self.send_json(HTTPStatus.NOT_FOUND, {"error": f"no such path {self.path}"})
            return
        self.send_json(HTTPStatus.OK, {"status": "ok", "model": self.server.model.name})

    def do_POST(self) -> None:
        if self.path != "/invocations":
            self.send_json(HTTPStatus.NOT_FOUND, {"error": f"no such path {self.path}"})
            return
        try:
            body = self.read_body()
            pixels = decode_image(body, self.server.limits)
        except PayloadError as error:
            self.send_json(error.status, {"error": str(error)})
            return
        started = time.perf_counter()
        upscaled = self.server.model.upscale(pixels)
        payload, content_type = encode_image(upscaled, self.headers.get("Accept", ""))
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Vsr-Model", self.server.model.name)
        self.send_header("X-Vsr-Seconds", f"{time.perf_counter() - started:.3f}")
        self.end_headers()
        self.wfile.write(payload)

    def read_body(self) -> bytes:
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            self.close_connection = True
            raise PayloadError(HTTPStatus.LENGTH_REQUIRED, "Content-Length header required")
        try:
            length = int(length_header)
        except ValueError as error:
            raise PayloadError(HTTPStatus.BAD_REQUEST, "Content-Length is not a number") from error
        limit = self.server.limits.max_bytes
        if length > limit:
            self.close_connection = True  # the unread body must not be parsed as a request
            raise PayloadError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"payload is {length} bytes; the limit is {limit}",
            )
        return self.rfile.read(length)

    def send_json(self, status: HTTPStatus, document: dict[str, Any]) -> None:
        payload = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (base-class name)
        sys.stderr.write(f"endpoint: {self.address_string()} {format % args}\n")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        raise SystemExit(f"{name}={value!r}: not an integer") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=env_int("SAGEMAKER_BIND_TO_PORT", DEFAULT_PORT))
    parser.add_argument("--model", default=os.environ.get("VSR_MODEL", DEFAULT_MODEL["anime"]))
    parser.add_argument("--device", default=os.environ.get("VSR_DEVICE", "auto"))
    parser.add_argument("--precision", default=os.environ.get("VSR_PRECISION", "fp32"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    limits = Limits(
        max_bytes=env_int("VSR_MAX_BYTES", DEFAULT_MAX_BYTES),
        max_pixels=env_int("VSR_MAX_PIXELS", DEFAULT_MAX_PIXELS),
    )
    from vsr.errors import VsrError

    try:  # load before listening: /ping answers only once the model is ready
        model = Model(args.model, args.device, args.precision, env_int("VSR_TILE", 0))
    except VsrError as error:
        print(f"endpoint: {error}", file=sys.stderr)
        return 1
    server = EndpointServer((args.host, args.port), model, limits)
    # SageMaker stops a container with SIGTERM: finish the request in flight, then exit.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    address = f"http://{args.host}:{server.server_port}"
    print(f"endpoint: {model.name} listening on {address}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
