"""Draw the contact sheet of the glyph source: one row per face, digits 0-9 undistorted and then
twice with the source's own random distortions (docs/glyphs-contact-sheet.png).

    .venv/bin/python scripts/glyph_contact_sheet.py [--out docs/glyphs-contact-sheet.png]

Held-out faces (the ``test`` split's) are marked. Looking at it is the check that the glyphs read
as digits, fill the 18x18 box as the ``digits`` source does (a faint square) and stay inside the
disc that every rotation keeps in the frame (a faint circle).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from equibench.data import glyphs
from equibench.data.glyphs import UNDISTORTED, Distortion, draw, split_generator

ZOOM = 3
LABEL_WIDTH = 190


def one_of_each_digit(face: str, distortion: Distortion, seed: int) -> list[np.ndarray]:
    """The first glyph of each digit 0-9 among draws from ``face``."""
    base = draw((face,), 120, split_generator(seed, face), distortion)
    first = {}
    for image, label in zip(base.images, base.labels.tolist()):
        first.setdefault(label, image[0].numpy())
    return [first[d] for d in range(10)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/glyphs-contact-sheet.png"))
    args = parser.parse_args()

    faces = glyphs.TRAIN_FACES + glyphs.HELD_OUT_FACES
    cell, blocks = glyphs.CANVAS * ZOOM, 3
    gap = cell // 2
    width = LABEL_WIDTH + blocks * 10 * cell + (blocks - 1) * gap
    sheet = Image.new("L", (width, (len(faces) + 1) * cell), 255)
    pen = ImageDraw.Draw(sheet)
    font = ImageFont.truetype(str(glyphs.face_path("DejaVuSans")), 15)
    heads = ("undistorted", "distorted (seed 0)", "distorted (seed 1)")
    for b, head in enumerate(heads):
        pen.text((LABEL_WIDTH + b * (10 * cell + gap) + 4, cell // 3), head, fill=0, font=font)
    lo, hi = (glyphs.CANVAS - glyphs.DIGIT_BOX) // 2 * ZOOM, (glyphs.CANVAS + glyphs.DIGIT_BOX) // 2 * ZOOM - 1
    disc = [round((glyphs.CANVAS / 2 + side * glyphs.RADIUS) * ZOOM) for side in (-1, 1)]
    for row, face in enumerate(faces, start=1):
        held = " (held out)" if face in glyphs.HELD_OUT_FACES else ""
        pen.text((4, row * cell + cell // 3), face + held, fill=0, font=font)
        rows = [one_of_each_digit(face, UNDISTORTED, 0), one_of_each_digit(face, glyphs.DISTORTION, 0),
                one_of_each_digit(face, glyphs.DISTORTION, 1)]
        for b, images in enumerate(rows):
            for d, image in enumerate(images):
                x, y = LABEL_WIDTH + b * (10 * cell + gap) + d * cell, row * cell
                tile = Image.fromarray(255 - image).resize((cell, cell), Image.NEAREST)
                sheet.paste(tile, (x, y))
                pen.rectangle((x + lo - 1, y + lo - 1, x + hi + 1, y + hi + 1), outline=215)
                pen.ellipse((x + disc[0], y + disc[0], x + disc[1], y + disc[1]), outline=230)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height})")


if __name__ == "__main__":
    main()
