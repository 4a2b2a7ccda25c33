"""The model registry: ``@register_model`` factories, ``create_model`` and ``list_models``.

A model is one decorated factory function. ``create_model(name, **kwargs)`` calls it and
records the architecture name and the keyword arguments on the returned module
(``model.tinct_spec``), so saving a model needs no per-model code: the spec is written into
``config.json`` and replayed on loading. No I/O happens here.

As in timm, this module imports no model module: the families import it to register
themselves, and ``tinct.models`` (the package this module lives in) imports every family, so
any import of the registry through the package has them all registered.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch.nn as nn

from tinct.errors import TinctError

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


class UnknownModelError(TinctError, KeyError):
    """Raised for an architecture name that no factory is registered under."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Registers a model factory under its function name. Returns the factory unchanged."""
    name = fn.__name__
    if name in _REGISTRY:
        raise ValueError(f"a model named {name!r} is already registered")
    _REGISTRY[name] = fn
    return fn


def list_models() -> list[str]:
    """Names of every registered architecture, sorted."""
    return sorted(_REGISTRY)


def model_signature(name: str) -> inspect.Signature:
    """The factory's signature: the arguments ``create_model`` accepts for ``name``."""
    return inspect.signature(_get(name))


def model_doc(name: str) -> str:
    """The first paragraph of the factory's docstring, on one line: what ``name`` is."""
    doc = inspect.getdoc(_get(name)) or ""
    return " ".join(doc.split("\n\n")[0].split())


def _get(name: str) -> Callable[..., nn.Module]:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise UnknownModelError(f"unknown architecture {name!r}; known: {known}") from None


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Builds the registered model ``name`` with ``kwargs`` and records both on it.

    Unknown keyword arguments are rejected with a clear error instead of being ignored.
    """
    factory = _get(name)
    sig = inspect.signature(factory)
    unknown = [k for k in kwargs if k not in sig.parameters]
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        allowed = ", ".join(sig.parameters) or "none"
        raise TypeError(f"model {name!r} got unknown argument(s) {unknown}; allowed: {allowed}")
    model = factory(**kwargs)
    model.tinct_spec = {"architecture": name, "args": dict(kwargs)}
    return model
