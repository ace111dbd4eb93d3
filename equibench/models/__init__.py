"""Model plugins: the :class:`Encoder` interface, the entry-point registry and plugin checks."""

from equibench.models.encoder import DataSpec, Encoder, Operator

__all__ = ["DataSpec", "Encoder", "Operator"]
