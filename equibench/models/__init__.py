"""Model plugins: the :class:`Encoder` interface, the entry-point registry and plugin checks."""

from equibench.models.encoder import DataSpec, Encoder, NotMeasurable, Operator

__all__ = ["DataSpec", "Encoder", "NotMeasurable", "Operator"]
