"""How alike base images are to their own rotations, on the glyph and the digits sources.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/rotation_similarity.py

Why: a model that confuses g^k with g^(k+9) on the 18-step rotation datasets, or learns rotation
slowly, may be held back by the images rather than by itself. Printed per source: the mean cosine
similarity, in pixels, between a base image and its rotation by each step of 20 degrees (high at
20 degrees: neighbouring frames of an orbit look alike; high at 180: a half turn is hard to see),
the fraction of pixels above 0.5 (how much ink), and the fraction of images that are nearly
symmetric under a half turn (their half turn, exact, is closer to them than their nearer one-step
rotation), per digit too. Sources: the glyphs of a card with seed 0 (``fit``: training faces,
``test``: held-out faces) and all 1,797 digits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from equibench.data.glyphs import glyph_pools
from equibench.data.sources import BaseImages, load_source
from equibench.transforms import Rotation


def report(name: str, base: BaseImages) -> None:
    x, rotation = base.images.float() / 255.0, Rotation(18)
    turned = {k: rotation.apply(x, k) for k in range(1, 18)}
    similarity = " ".join(f"{20 * k}: {F.cosine_similarity(x.flatten(1), turned[k].flatten(1)).mean():.2f}"
                          for k in range(1, 10))
    half_turn = (x - turned[9]).flatten(1).norm(dim=1)
    one_step = torch.minimum(*((x - turned[k]).flatten(1).norm(dim=1) for k in (1, 17)))
    near = half_turn < one_step
    digits = " ".join(f"{d}: {near[base.labels == d].float().mean():.2f}" for d in range(10))
    print(f"{name} ({len(x)} images, ink {(x > 0.5).float().mean():.3f})\n"
          f"  cosine similarity to the rotation by (degrees) {similarity}\n"
          f"  nearly symmetric under a half turn: {near.float().mean():.3f}; per digit {digits}")


def main() -> None:
    glyphs = glyph_pools({"fit": 2000, "test": 2000}, seed=0)
    report("glyphs, training faces", glyphs["fit"])
    report("glyphs, held-out faces", glyphs["test"])
    report("digits", load_source("digits")["all"])


if __name__ == "__main__":
    main()
