"""equibench: measure how equivariant a learned representation is.

The data flow is the package layout: ``data`` (orbits under a group action) -> ``models``
(plugins that encode) -> ``metrics`` (commutativity and the measures beside it) -> ``runs``
(one JSON record per result) -> leaderboard.
"""

__version__ = "0.1.0"
