"""How hard the glyph source is: a linear probe (logistic regression) and a small MLP on raw
pixels, trained on glyphs of the training faces and scored on new glyphs of the same faces and of
the held-out faces (the issue's figures of merit; MNIST gives about 92% and 98%).

    OMP_NUM_THREADS=2 .venv/bin/python scripts/glyph_probes.py --train 10000

The glyphs are the ones a card with seed 0 draws for ``fit`` (probe training) and ``test``
(held-out faces); the seen-faces test set is drawn from the training faces with its own seed.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from equibench.data import glyphs
from equibench.data.glyphs import draw, split_generator


def pixels(faces: tuple[str, ...], count: int, split: str) -> tuple[np.ndarray, np.ndarray]:
    base = draw(faces, count, split_generator(0, split))
    return base.images.flatten(1).numpy() / 255.0, base.labels.numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=10_000, help="probe training glyphs (training faces)")
    parser.add_argument("--test", type=int, default=2_000, help="test glyphs of each kind")
    args = parser.parse_args()

    x, y = pixels(glyphs.TRAIN_FACES, args.train, "fit")
    tests = {"held-out faces": pixels(glyphs.HELD_OUT_FACES, args.test, "test"),
             "seen faces": pixels(glyphs.TRAIN_FACES, args.test, "seen-faces")}
    probes = {"linear (logistic regression)": LogisticRegression(max_iter=2000),
              "MLP (784-256-10, early stopping)": MLPClassifier((256,), early_stopping=True, random_state=0)}
    print(f"probes trained on {args.train:,} glyphs of {len(glyphs.TRAIN_FACES)} faces; accuracy on {args.test:,}:")
    for name, probe in probes.items():
        probe.fit(x, y)
        scores = ", ".join(f"{kind} {probe.score(*data):.1%}" for kind, data in tests.items())
        print(f"  {name}: {scores}")


if __name__ == "__main__":
    main()
