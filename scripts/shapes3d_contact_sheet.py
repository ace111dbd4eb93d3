"""Draw the contact sheet of the 3D source: 8 objects of 8 classes, each at 8 rotations, rendered
at 64x64 and at 28x28 (docs/shapes3d-contact-sheet.png).

    .venv/bin/python scripts/shapes3d_contact_sheet.py [--out docs/shapes3d-contact-sheet.png]

The first column is the base pose (the identity), then quarter turns about the vertical axis (y),
about the horizontal axis (x) and about the line of sight (z), then four rotations uniform on
SO(3). Looking at it is the check that the classes read as what they are named, that rotations
turn the object and not the image, and that no rotation takes a part out of the frame.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import matplotlib
import torch
from PIL import Image, ImageDraw, ImageFont

from equibench.data import shapes3d, tracing
from equibench.groups import build_family
from equibench.groups.quaternions import from_axis_angle

LARGE, SMALL, ZOOM = 64, 28, 2
LABEL_WIDTH = 110


def rotations() -> tuple[list[str], torch.Tensor]:
    """The 8 column headings and their elements ``[8, 4]``."""
    axes = torch.eye(3, dtype=torch.float64)
    quarter = torch.full((1,), math.pi / 2, dtype=torch.float64)
    turns = [from_axis_angle(axes[i: i + 1], quarter) for i in (1, 0, 2)]
    so3 = build_family("so3")
    uniform = so3.sample(4, {"angle": [0.0, 180.0]}, torch.Generator().manual_seed(0))
    return (["identity", "90 about y", "90 about x", "90 about z"] + [f"uniform {i + 1}" for i in range(4)],
            torch.cat([so3.identity(1), *turns, uniform]))


def one_per_class(count: int) -> shapes3d.Objects:
    """The first object of each of the first ``count`` classes among draws from seed 0."""
    objects = shapes3d.draw(200, torch.Generator().manual_seed(0), LARGE)
    first = [int((objects.labels == label).nonzero()[0]) for label in range(count)]
    return objects[torch.tensor(first)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/shapes3d-contact-sheet.png"))
    args = parser.parse_args()

    names, elements = rotations()
    objects = one_per_class(len(names))
    so3 = build_family("so3")
    cell, gap = LARGE * ZOOM, LARGE
    sheet = Image.new("RGB", (LABEL_WIDTH + 2 * len(names) * cell + gap, (len(objects) + 1) * cell), (255, 255, 255))
    pen = ImageDraw.Draw(sheet)
    font = ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts/ttf/DejaVuSans.ttf"), 13)
    for block, (pixels, title) in enumerate(((LARGE, "64x64"), (SMALL, "28x28"))):
        left = LABEL_WIDTH + block * (len(names) * cell + gap)
        for column, name in enumerate(names):
            pen.text((left + column * cell + 4, cell // 3), f"{title}: {name}" if column == 0 else name, fill=0, font=font)
        for row in range(len(objects)):
            posed = objects[torch.full((len(names),), row)]
            images = tracing.render(so3.act(posed, elements), pixels)
            for column, image in enumerate(images):
                tile = Image.fromarray((image.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy())
                sheet.paste(tile.resize((cell, cell), Image.NEAREST), (left + column * cell, (row + 1) * cell))
    for row, label in enumerate(objects.labels.tolist()):
        pen.text((4, (row + 1) * cell + cell // 2 - 8), list(shapes3d.CLASSES)[label], fill=0, font=font)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height})")


if __name__ == "__main__":
    main()
