"""The landing page: what is running now. The full dashboard is a later issue."""

from __future__ import annotations

from nicegui import ui

from services.queues import queue_status
from ui.frame import frame


@ui.page("/")
async def home() -> None:
    with frame("Overview"):
        status = await queue_status()
        c, m = status["contracts"], status["messages"]
        with ui.row():
            for label, value in (
                ("Contracts waiting", c["waiting"]),
                ("Contracts active", c["active"]),
                ("Contracts completed", c["completed"]),
                ("Messages sent", m["completed"]),
            ):
                with ui.card():
                    ui.label(label).classes("text-caption")
                    ui.label(str(value)).classes("text-h6")
        ui.markdown("Drive contracts through the REST API; its reference is at [/docs](/docs).")
