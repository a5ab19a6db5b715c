"""What a page holds once nobody uses it.

NiceGUI keeps every page it serves (its Client, the elements, what their handlers hold) until the
browser's socket has gone for `reconnect_timeout`; a page whose socket never connects (a script or a
crawler GETting it, a prefetch, a flood of requests) it drops after 60 s (Client.prune_instances).
1,000 GETs of the sign-in page within those 60 s held 1,000 pages at once, and the process's memory
stayed grown after they went (the allocator keeps what was fragmented); a signed-in page weighs
some 0.8 MB. So the pages whose browser
has not connected are kept only while few: past MOST_UNCLAIMED, the oldest of them (served at least
GRACE_S ago) are dropped. A browser whose page was dropped before its socket connected reloads it
(NiceGUI's handshake fails), which happens only under such a flood.

Upload: NiceGUI's ui.upload serves each element's uploads on a route of its own, and FastAPI keeps
that route's endpoint (and with it the element) in a cache of up to 4,096 endpoints after the route
is removed; the element's handlers held the wizard's draft and its whole table, 60 MB for a
million rows, per page load. This one lets go of its handlers when it is deleted.
"""

from __future__ import annotations

import time
from weakref import WeakSet

from nicegui import Client, app, ui

MOST_UNCLAIMED = 30
GRACE_S = 2.0  # a browser connects within a second of loading the page
_claimed: WeakSet[Client] = WeakSet()


def install() -> None:
    """Track which pages' browsers connected, and drop the unclaimed ones past the bound each second."""
    app.on_connect(_claim)
    app.timer(1.0, drop_unclaimed)


def _claim(client: Client) -> None:
    _claimed.add(client)


def drop_unclaimed() -> None:
    """Delete the oldest pages no browser connected to, beyond the newest MOST_UNCLAIMED."""
    now = time.time()
    unclaimed = sorted(
        (c for c in Client.instances.values() if c not in _claimed and not c.is_deleted),
        key=lambda c: c.created,
    )
    for client in unclaimed[: max(0, len(unclaimed) - MOST_UNCLAIMED)]:
        if client.created <= now - GRACE_S:
            client.delete()


class Upload(ui.upload):
    """ui.upload whose handlers go when it is deleted (see the module's docstring)."""

    def _handle_delete(self) -> None:
        self._begin_upload_handlers.clear()
        self._upload_handlers.clear()
        self._multi_upload_handlers.clear()
        super()._handle_delete()
