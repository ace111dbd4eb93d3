"""Warnings derived from the metrics, never from a model's name: signs that a score flatters a code.

Each warning names what it saw, in numbers, so that a reader of a record or of the leaderboard can
check it. The thresholds are deliberately loose: a warning is a reason to look, not a verdict.
"""

from __future__ import annotations

from typing import Any

OPERATORS = {"": "declared", "_roll": "Roll", "_fitted": "fitted"}
MISSES = 0.2  # look at the misses only when at least this fraction of orbit retrievals miss
CONCENTRATED = 0.5  # misses at one offset beyond this share: the code confuses g with g h
GOOD_COMMUTATIVITY = 0.1  # a declared error this low promises retrieval ...
WEAK_H1 = 0.8  # ... above this
NEAR_CHANCE = 2.0  # H@1 within this factor of its chance level


def diagnose(metrics: dict[str, Any], curves: dict[str, list[float]], chance: dict[str, float]) -> list[dict[str, str]]:
    """Warnings ``{"kind", "metric", "message"}`` for one record's metrics."""
    out = []
    for suffix, label in OPERATORS.items():
        h1 = metrics.get(f"h1_orbit{suffix}")
        offsets = curves.get(f"top1_offset_orbit{suffix}")
        if h1 is None or (suffix and offsets is not None and offsets == curves.get("top1_offset_orbit")):
            continue  # no such operator, or the declared one again (the TVAE declares Roll)
        missed = 1 - offsets[0] if offsets is not None else 0.0  # view datasets have no offsets
        worst = max(range(1, len(offsets)), key=lambda d: offsets[d]) if offsets is not None else 0
        if missed >= MISSES and offsets[worst] >= CONCENTRATED * missed:
            out.append({"kind": "offset_confusion", "metric": f"h1_orbit{suffix}", "message":
                        f"{label} operator: {offsets[worst]:.0%} of orbit retrievals land {worst} step(s) past "
                        f"the target: the code confuses g^k with g^(k+{worst})"})
        level = chance[f"h1_orbit{suffix}"]
        if h1 <= NEAR_CHANCE * level:
            out.append({"kind": "near_chance", "metric": f"h1_orbit{suffix}", "message":
                        f"{label} operator: orbit H@1 {h1:.3g} is near its chance level {level:.3g}"})
    declared, h1 = metrics.get("commutativity"), metrics.get("h1_orbit")
    if declared is not None and h1 is not None and declared <= GOOD_COMMUTATIVITY and h1 < WEAK_H1:
        out.append({"kind": "commutativity_flatters", "metric": "commutativity", "message":
                    f"declared commutativity {declared:.3g} looks near-perfect, yet its orbit H@1 is only "
                    f"{h1:.3g}: the code is close to invariant along part of the orbit"})
    return out
