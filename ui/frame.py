"""The frame every page shares: header with the product name and the menu."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nicegui import ui


@contextmanager
def frame(title: str) -> Iterator[None]:
    with ui.header().classes("items-center bg-green-8"):
        ui.label("WA Contracts").classes("text-h6")
        ui.space()
        ui.link("API docs", "/docs").classes("text-white")
    with ui.column().classes("w-full max-w-5xl mx-auto p-4"):
        ui.label(title).classes("text-h5")
        yield
