"""``equibench.evaluate``: score the model open in a notebook, with no plugin package and no CLI.

It is the runner's own path (:func:`~equibench.runs.runner.plan_for`, then
:func:`~equibench.runs.runner.measure`), entered with an object instead of an installed name, so
the behaviour checks, the metric suite and the record are exactly those of ``equibench run``.
What differs is only where the fitted model comes from: an ``Encoder`` class is built from its
default config and fitted on the train split as ``run`` does (never from or into the checkpoint
cache, since nothing ties a class in a notebook to a checkpoint); an ``Encoder`` instance, a
``torch.nn.Module`` or a callable is scored as it is.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from equibench.data.cards import load_card
from equibench.data.orbits import OrbitDataset, load_dataset
from equibench.errors import ConfigError
from equibench.models.encoder import DataSpec, Encoder, Operator
from equibench.models.guard import GuardedModel, construct
from equibench.models.registry import ModelRef, check_encoder_class
from equibench.progress import progress as progress_bar
from equibench.progress import quiet
from equibench.records import write_record
from equibench.runs.runner import RunRequest, default_cache_dir, measure, plan_for, seed_everything
from equibench.transforms import Transformation


@dataclass(frozen=True)
class Result:
    """The record of one evaluation, and the file it was written to (None unless ``out`` was given)."""

    record: dict[str, Any]
    path: Path | None = None

    @property
    def metrics(self) -> dict[str, Any]:
        return self.record["metrics"]

    @property
    def curves(self) -> dict[str, list[float]]:
        return self.record["curves"]

    @property
    def null_reasons(self) -> dict[str, str]:
        return self.record["null_reasons"]

    @property
    def warnings(self) -> list[str]:
        """What the suite warns of in this result (empty where the record carries no warnings)."""
        return self.record.get("warnings", [])

    def to_json(self) -> str:
        """The record as ``equibench run`` writes it."""
        return json.dumps(self.record, indent=2, sort_keys=False) + "\n"


def dataset(name: str = "digits-rot18", *, data_root: str | Path | None = None) -> OrbitDataset:
    """The dataset ``name`` (an id or a card's path) as ``run`` builds it into the cache: its
    ``train`` split is what to train a model on before :func:`evaluate` scores it on ``test``."""
    return load_dataset(load_card(str(name)), default_cache_dir(), quiet,
                        None if data_root is None else Path(data_root))


class _Callable(Encoder):
    """A ``torch.nn.Module`` or a plain callable as an encoder, declaring ``operator`` if given."""

    def __init__(self, function: Callable[[torch.Tensor], torch.Tensor], declared: Operator | None,
                 spec: DataSpec, device: torch.device) -> None:
        super().__init__({}, spec, device)
        self.function, self.declared = function, declared

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.function(images)

    def operator(self, transformation: Transformation) -> Operator | None:
        return self.declared


def _name(obj: object) -> str:
    """The record's model name: ``api.`` and the object's own name (else its class's), fit for a
    file name. The prefix keeps it apart from every installed model, so that a record from the API
    is never taken for one of ``equibench run`` (the leaderboard skips it as not installed)."""
    name = getattr(obj, "__name__", None) or type(obj).__name__
    return "api." + re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _state_sha256(module: torch.nn.Module) -> str:
    """sha256 of a Module's parameters and buffers (their names, dtypes, shapes and values)."""
    buffer = io.BytesIO()
    for key, tensor in module.state_dict().items():
        t = tensor.detach().cpu().contiguous().reshape(-1)
        buffer.write(f"{key}:{t.dtype}:{tuple(t.shape)};".encode())
        buffer.write(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def _model_ref(encoder: object, operator: Operator | None) -> ModelRef:
    """What the record says of ``encoder``: its name, kind and, for a Module, its weights' hash."""
    qualname = f"{getattr(encoder, '__module__', '?')}.{getattr(encoder, '__qualname__', type(encoder).__qualname__)}"
    source = {"kind": "api", "qualname": qualname, "sha256": None}
    if isinstance(encoder, type) and not issubclass(encoder, Encoder):
        raise ConfigError(f"evaluate() got the class {encoder.__name__}; pass an instance of it, "
                          f"e.g. {encoder.__name__}(...), or an equibench Encoder subclass")
    if isinstance(encoder, (type, Encoder)):
        if operator is not None:
            raise ConfigError("operator= declares the operator of a Module or a callable; an Encoder "
                              "declares its own in operator()")
        cls = check_encoder_class(encoder if isinstance(encoder, type) else type(encoder), f"evaluate(): {qualname}")
        return ModelRef(_name(cls), cls, cls.description, source | {
            "object": "encoder-class" if encoder is cls else "encoder-instance",
            "unhashed": "equibench does not hash a class's code; run it as --model file.py:Class for that"})
    if isinstance(encoder, torch.nn.Module):
        sha = _state_sha256(encoder)
        return ModelRef(f"{_name(encoder)}@{sha[:8]}", _Callable, f"{type(encoder).__name__} (torch.nn.Module)",
                        source | {"object": "module", "sha256": sha, "hashed": "parameters and buffers"})
    if callable(encoder):
        return ModelRef(_name(encoder), _Callable, f"{qualname} (a callable)", source | {
            "object": "callable",
            "unhashed": "a plain callable's code and state cannot be hashed; only its name is recorded"})
    raise ConfigError(f"evaluate() takes an Encoder (class or instance), a torch.nn.Module or a callable "
                      f"from images [B, C, H, W] to codes [B, D], not {type(encoder).__name__}")


def _device(encoder: object, device: str) -> str:
    """``auto`` is where a Module's parameters are, the CPU for a plain callable, and CUDA when
    present for an Encoder class (as ``run``); an explicit device must be the Module's own."""
    if isinstance(encoder, torch.nn.Module):
        held = {str(t.device) for t in encoder.state_dict().values()} or {"cpu"}
        if device == "auto":
            if len(held) > 1:
                raise ConfigError(f"the module's tensors are on several devices ({', '.join(sorted(held))}); "
                                  "move it to one with module.to(...)")
            return held.pop()
        if {torch.device(d) for d in held} != {torch.device(device)}:
            raise ConfigError(f"the module's tensors are on {', '.join(sorted(held))}, not {device}; move it "
                              f"with module.to({device!r}) or leave device='auto'")
        return device
    if device == "auto" and not (isinstance(encoder, type) and issubclass(encoder, Encoder)):
        return str(encoder.device) if isinstance(encoder, Encoder) else "cpu"
    return device


@contextmanager
def _eval_mode(encoder: object) -> Iterator[None]:
    """A Module in eval mode while it is scored (encoding must be deterministic), its mode restored."""
    if not isinstance(encoder, torch.nn.Module):
        yield
        return
    modes = {m: m.training for m in encoder.modules()}
    encoder.eval()
    try:
        yield
    finally:
        for m, training in modes.items():
            m.training = training


def evaluate(encoder: object, dataset: str = "digits-rot18", *, operator: Operator | None = None,
             seed: int = 0, profile: str = "quick", out: str | Path | None = None, device: str = "auto",
             progress: bool = False, data_root: str | Path | None = None) -> Result:
    """Score ``encoder`` on ``dataset`` as ``equibench run`` does, and return its record.

    ``encoder``: an :class:`~equibench.models.Encoder` class (built with its ``profile`` config
    and fitted on the train split) or instance (scored as it is), a ``torch.nn.Module`` or any
    callable from images ``[B, C, H, W]`` in [0, 1] to codes ``[B, D]``. ``operator``: the latent
    operator ``rho(z, k)`` a Module or callable declares. ``out``: a folder to write the record
    (and figures) into, as ``run --out``; none by default. Nothing is printed unless ``progress``.
    Bad input raises :class:`~equibench.errors.EquibenchError` with a message naming the fix.
    """
    started = time.perf_counter()
    bar = progress_bar if progress else quiet
    ref = _model_ref(encoder, operator)
    request = RunRequest(model=ref.name, dataset=str(dataset), seed=seed, profile=profile,
                         out_dir=None if out is None else Path(out), cache_dir=default_cache_dir(),
                         data_root=None if data_root is None else Path(data_root),
                         device=_device(encoder, device))
    config = encoder.config if isinstance(encoder, Encoder) else None if isinstance(encoder, type) else {}
    p = plan_for(request, ref, bar, config)
    seed_everything(seed)
    if isinstance(encoder, type):  # every call of the user's code guarded, as in a run
        model = construct(encoder, ref.name, p.config, p.spec, p.device)
        with p.watch.stage("fit"):
            model.fit(p.data.splits["train"], bar)
    else:
        model = GuardedModel(encoder if isinstance(encoder, Encoder) else
                             _Callable(encoder, operator, p.spec, p.device), ref.name)
    with _eval_mode(encoder):
        record = measure(p, model, {"loaded": False, "file": None}, started, bar)
    return Result(record, None if out is None else write_record(p.record_path, record))
