"""The transports accounts may use: the built-in ones, then those of the modules named in the
TRANSPORT_PLUGINS setting (each module holds a `TRANSPORT = TransportSpec(...)`)."""

from __future__ import annotations

import functools
import importlib

from settings import get_settings
from wa import sandbox, whatsapp
from wa.transport import TransportSpec

BUILT_IN = (sandbox.TRANSPORT, whatsapp.TRANSPORT)


class UnknownTransport(LookupError):
    pass


@functools.cache
def _by_name(plugins: tuple[str, ...]) -> dict[str, TransportSpec]:
    specs = [*BUILT_IN, *(importlib.import_module(module).TRANSPORT for module in plugins)]
    return {spec.name: spec for spec in specs}


def transports() -> list[TransportSpec]:
    return list(_by_name(tuple(get_settings().transport_plugins)).values())


def transport(name: str) -> TransportSpec:
    spec = _by_name(tuple(get_settings().transport_plugins)).get(name)
    if spec is None:
        known = ", ".join(s.name for s in transports())
        raise UnknownTransport(f"unknown transport {name!r}; one of {known}")
    return spec


def names(*, task_driven: bool) -> list[str]:
    """The transports whose accounts a task drives (True), or a worker's session host (False)."""
    return [spec.name for spec in transports() if spec.task_driven == task_driven]
