"""Where a result came from: package versions, git commit and hardware."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch

import equibench


def versions() -> dict[str, str | None]:
    def installed(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    return {
        "equibench": equibench.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": installed("torchvision"),
        "escnn": installed("escnn"),
        "scikit-learn": installed("scikit-learn"),
        "numpy": installed("numpy"),
        # the glyphs source's pixels: matplotlib ships the fonts, Pillow's FreeType rasterises them
        "matplotlib": installed("matplotlib"),
        "pillow": installed("pillow"),
        "freetype": _freetype(),
        "git_commit": _git_commit(),
    }


def _freetype() -> str | None:
    from PIL import features

    return features.version("freetype2")


CODE_PATHS = ["equibench", "plugins", "datasets", "pyproject.toml"]
"""What a result depends on: a change elsewhere (docs, the records of a sweep in progress) leaves
the code of that commit intact, so it does not mark the record dirty."""


def _git_commit() -> str | None:
    """The commit of the equibench checkout, with ``+dirty`` where its code has uncommitted changes."""
    root = Path(equibench.__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS],
                                cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if commit.returncode != 0:
        return None
    return commit.stdout.strip() + ("+dirty" if status.stdout.strip() else "")


def hardware(device: torch.device) -> dict[str, object]:
    info: dict[str, object] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info
