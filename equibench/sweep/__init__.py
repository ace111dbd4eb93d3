"""Sweeps: plan the cells of models x datasets x seeds, skip those done, run the rest locally or on Ray."""

from equibench.sweep.sweep import EXECUTORS, SweepReport, SweepRequest, run_sweep

__all__ = ["EXECUTORS", "SweepReport", "SweepRequest", "run_sweep"]
