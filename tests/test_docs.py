"""The plugin guide's code cannot go stale: every Python block of docs/plugins.md runs, in order,
in one namespace, as a reader would paste them."""

from __future__ import annotations

import re
from pathlib import Path

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"


def test_every_python_block_of_the_plugin_guide_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.S)
    assert len(blocks) >= 5
    namespace: dict = {"__name__": "plugin_guide"}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"{GUIDE.name}, block {number}", "exec"), namespace)
    assert {"PooledPixels", "RandomProjection", "PooledPixelsAnywhere", "ClassifierOnly"} <= set(namespace)
