"""The leaderboard: result records -> mean and 95% interval over seeds, ranks, tables and plots."""

from equibench.leaderboard.build import Built, build_leaderboard

__all__ = ["Built", "build_leaderboard"]
