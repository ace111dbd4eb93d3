"""TVAE training throughput (images per second) and time per epoch, on the current device.

Times full optimiser steps (forward, backward, update) of the ``tvae`` plugin on random frames:
at the paper's configuration (colour 3x28x28 as in the paper's MNIST, 18 x 18 capsules, batch
8 sequences of 18, SGD) and at the ``quick`` profile on ``digits-rot18``. For scale it also
times the plain MLPs of the paper's sizes (two encoders and a decoder, s = z, no topographic
layer, no KL), the practical ceiling.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/train_throughput.py [--steps 30] [--device cpu]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from equibench.data.cards import load_card
from equibench.models import DataSpec
from equibench.runs.runner import resolve_device
from equibench_plugins.tvae import TVAE
from equibench_plugins.vae import make_optimizer, mlp_decoder, mlp_encoder

PAPER_TRAIN_SEQUENCES = 48_000  # 80% of MNIST's 60,000 training digits, one sequence each


def time_steps(step, steps: int, device: torch.device) -> float:
    """Seconds per call of ``step``, after three warm-up calls."""
    for _ in range(3):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def tvae_step(profile: str, spec: DataSpec, device: torch.device):
    """One optimiser step of the plugin's own model and optimiser on random frames; images a step."""
    model = TVAE(TVAE.default_config(profile, spec), spec, device)
    c = model.config
    frames = torch.randint(0, 256, (c["batch_sequences"], spec.order, *spec.image_shape),
                           dtype=torch.uint8, device=device)
    optimizer = model.optimizer()
    model.net.train()

    def step() -> None:
        loss = model.net.loss(frames.float().div(255.0))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step, c["batch_sequences"] * spec.order


def ceiling_step(spec: DataSpec, device: torch.device):
    """Plain MLPs of the paper's sizes: z and u encoders and a decoder, s = z, BCE only."""
    c = TVAE.default_config("paper", spec)
    d = c["capsules"] * c["capsule_dim"]
    nets = torch.nn.ModuleList([mlp_encoder(spec.image_shape, d, c["hidden"]),
                                mlp_encoder(spec.image_shape, d, c["hidden"]),
                                mlp_decoder(d, spec.image_shape, c["hidden"][::-1])]).to(device)
    x = torch.rand(c["batch_sequences"] * spec.order, *spec.image_shape, device=device)
    optimizer = make_optimizer(nets.parameters(), c)

    def step() -> None:
        z = nets[0](x)[:, :d] + nets[1](x)[:, :d]
        loss = F.binary_cross_entropy_with_logits(nets[2](z), x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step, len(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per configuration")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    args = parser.parse_args()
    device = resolve_device(args.device)
    torch.manual_seed(0)
    rot18 = load_card("digits-rot18")
    transformation = rot18.build_transformation()
    paper = DataSpec("paper-mnist-colour", (3, 28, 28), 10, transformation)
    quick = DataSpec(rot18.id, (1, 28, 28), 10, transformation)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    rows = [
        ("tvae paper (3x28x28, 18x18, 8 seq x 18, SGD)", *tvae_step("paper", paper, device),
         PAPER_TRAIN_SEQUENCES, "MNIST 48,000 sequences"),
        ("tvae quick (digits-rot18, 1x28x28)", *tvae_step("quick", quick, device),
         rot18.splits["train"], f"{rot18.id} {rot18.splits['train']:,} sequences"),
        ("ceiling: plain MLPs of the paper's sizes", *ceiling_step(paper, device),
         PAPER_TRAIN_SEQUENCES, "MNIST 48,000 sequences"),
    ]
    for name, step, images, sequences, epoch in rows:
        seconds = time_steps(step, args.steps, device)
        rate = images / seconds
        print(f"{name:46s} {rate:8.0f} images/s  {seconds * 1e3:7.1f} ms/step  "
              f"{sequences * transformation.order / rate:8.1f} s/epoch ({epoch})")


if __name__ == "__main__":
    main()
