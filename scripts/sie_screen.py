"""Does a training choice make ``sie`` read the pose? A screen cheaper than a record.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/sie_screen.py --set epochs=30 --set anchored=true
    OMP_NUM_THREADS=1 .venv/bin/python scripts/sie_screen.py --grey --set epochs=30
    OMP_NUM_THREADS=1 .venv/bin/python scripts/sie_screen.py --supervised 6
    OMP_NUM_THREADS=1 .venv/bin/python scripts/sie_screen.py --linear-readout --set epochs=30

Why: on ``shapes3d-euler-views-ood`` the quick ``sie`` of version 0 learnt a code whose equivariant
part hardly moved with the rotation (docs/ssl.md), until its hypernetwork read the rotation matrix.
This trains it as ``equibench run`` does (same seeding, same ``fit``) with ``--set`` overrides and
prints, on ``test`` after training: the declared operator's H@1 among each object's views, how often
it retrieves the *source* view instead (a predictor near the identity on a code that barely moves),
and how much each part of the code moves between two views of one object relative to its spread
over all views (0: invariant). ``--supervised E`` instead
trains the same CNN backbone for E epochs to regress each view's own rotation matrix, and prints its
R² per matrix entry on ``test``: how much of the pose a 28x28 view shows this network at all.
``--linear-readout`` replaces the CNN's spatial average by a linear layer reading its whole last
map (which keeps where things are), in either mode.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import torch

from equibench.errors import ConfigError, exit_status
from equibench.groups import quaternions
from equibench.progress import quiet
from equibench.runs.runner import RunPlan, RunRequest, plan, seed_everything
from equibench_plugins.joint_embedding import cnn

BACKBONE_WIDTHS = [16, 32, 64, 128]  # the quick profile's cnn_widths


def relative_change(part: torch.Tensor, s: torch.Tensor, i: torch.Tensor, j: torch.Tensor) -> float:
    """Mean squared change of ``part[S, V, d]`` between views i and j of object s, over its total variance."""
    moved = (part[s, i] - part[s, j]).square().sum(-1).mean()
    return float(moved / part.flatten(0, 1).var(0).sum())


def grey(dataset) -> None:
    """Every split's views turned grey: each channel the mean of R, G and B, rounded."""
    for name, split in dataset.splits.items():
        frames = split.frames.float().mean(2, keepdim=True).expand_as(split.frames)
        dataset.splits[name] = replace(split, frames=frames.round().to(split.frames.dtype).contiguous())


def linear_readout(net: torch.nn.Sequential, image_shape: tuple[int, ...]) -> torch.nn.Sequential:
    """The CNN ``net`` with its spatial average and flattening replaced by a flattening and a linear
    layer from its whole last map to as many features as the average gave."""
    convolutions = torch.nn.Sequential(*list(net)[:-2])
    with torch.no_grad():
        channels, height, width = convolutions.eval()(torch.zeros(1, *image_shape)).shape[1:]
    return torch.nn.Sequential(*convolutions, torch.nn.Flatten(), torch.nn.Linear(channels * height * width, channels))


def screen(p: RunPlan, seed: int, zero_hypernetwork: bool = False, readout: bool = False) -> dict:
    """Train ``sie`` as ``equibench run`` plans it (``p``), then the figures on ``test``;
    ``zero_hypernetwork``: its hypernetwork starts at zero instead (W(g) = I at the start with
    ``--set anchored=true``, W(g) = 0 untied);
    ``readout``: its backbone reads the last map linearly (:func:`linear_readout`)."""
    train, test = p.data.splits["train"], p.data.splits["test"]
    seed_everything(seed)
    model = p.model.cls(p.config, p.spec, p.device)
    if zero_hypernetwork:
        torch.nn.init.zeros_(model.net.hypernet.weight)
    if readout:
        model.net.backbone = linear_readout(model.net.backbone, p.spec.image_shape)
    started = time.perf_counter()
    model.fit(train, quiet)
    trained = time.perf_counter() - started
    count, views = test.frames.shape[:2]
    z = torch.cat([model.encode(test.frames[a:a + 100].flatten(0, 1).float() / 255)
                   for a in range(0, count, 100)]).unflatten(0, (count, views))
    generator = torch.Generator().manual_seed(0)
    s = torch.arange(count).repeat_interleave(views - 1)
    i = torch.randint(views, (len(s),), generator=generator)
    j = (i + torch.randint(1, views, (len(s),), generator=generator)) % views
    predicted = model.operator(p.data.transformation)(z[s, i], model.family.relative(test.elements[s, i],
                                                                                       test.elements[s, j]))
    nearest = torch.cdist(predicted[:, None, :], z[s]).squeeze(1).argmin(1)
    split = model.invariant_dims().stop
    return {"train_s": round(trained), "h1": round(float((nearest == j).float().mean()), 3),
            "retrieves_source": round(float((nearest == i).float().mean()), 3),
            "invariant_part_moves": round(relative_change(z[..., :split], s, i, j), 3),
            "equivariant_part_moves": round(relative_change(z[..., split:], s, i, j), 3)}


def supervised(dataset, epochs: int, seed: int, readout: bool = False) -> list[float]:
    """R² per rotation-matrix entry on ``test`` after each epoch of regressing it from one view."""
    torch.manual_seed(seed)

    def arrays(split):
        frames = split.frames.flatten(0, 1)
        return frames, quaternions.to_matrix(split.elements.flatten(0, 1).double()).flatten(1).float()

    (x, y), (x_test, y_test) = arrays(dataset.splits["train"]), arrays(dataset.splits["test"])
    backbone = cnn(x.shape[1], BACKBONE_WIDTHS)
    if readout:
        backbone = linear_readout(backbone, tuple(x.shape[1:]))
    net = torch.nn.Sequential(backbone, torch.nn.Linear(BACKBONE_WIDTHS[-1], 9))
    optimiser = torch.optim.Adam(net.parameters(), 1e-3)
    curve = []
    for _ in range(epochs):
        net.train()
        for idx in torch.randperm(len(x)).split(256):
            loss = (net(x[idx].float() / 255) - y[idx]).square().mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        net.eval()
        with torch.no_grad():
            p = torch.cat([net(chunk.float() / 255) for chunk in x_test.split(1000)])
        curve.append(round(float((1 - (p - y_test).square().sum(0) / (y_test - y_test.mean(0)).square().sum(0)).mean()), 3))
    return curve


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="shapes3d-euler-views-ood")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], dest="overrides", help="KEY=VALUE, as equibench run")
    parser.add_argument("--supervised", type=int, metavar="EPOCHS", help="the supervised pose regression instead")
    parser.add_argument("--grey", action="store_true", help="train and score on the views turned grey")
    parser.add_argument("--zero-hypernetwork", action="store_true",
                        help="start the hypernetwork at zero (W(g) = I when anchored, 0 untied)")
    parser.add_argument("--linear-readout", action="store_true",
                        help="a linear layer reads the CNN's last map instead of its spatial average")
    args = parser.parse_args()
    torch.set_num_threads(1)
    p = plan(RunRequest(model="sie", dataset=args.dataset, seed=args.seed, overrides=tuple(args.overrides),
                        out_dir=None, device="cpu"), quiet)
    if getattr(p.data.splits["test"], "elements", None) is None:
        raise ConfigError(f"{args.dataset} is an orbit dataset; screen a view dataset, whose views carry their "
                          "elements (--dataset shapes3d-euler-views-ood, digits-so2-views-ood, ...)")
    if args.linear_readout and p.config["backbone"] != "cnn":
        raise ConfigError(f"--linear-readout replaces the small CNN's spatial average; this run's backbone is "
                          f"{p.config['backbone']}: add --set backbone=cnn")
    if args.grey:
        grey(p.data)
    if args.supervised:
        print(json.dumps({"supervised_r2_per_epoch": supervised(p.data, args.supervised, args.seed, args.linear_readout)}))
    else:
        print(json.dumps({"set": args.overrides, "grey": args.grey, "zero_hypernetwork": args.zero_hypernetwork,
                          "linear_readout": args.linear_readout,
                          **screen(p, args.seed, args.zero_hypernetwork, args.linear_readout)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(exit_status(main))  # bad input: one line, exit status 2
