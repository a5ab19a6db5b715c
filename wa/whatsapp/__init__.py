"""Real WhatsApp through neonize: a linked device per account (session.py), its sender (sender.py) and
the neonize client it is built on (client.py). Importing this package loads no neonize: the web
process needs only the spec; a worker's session host opens sessions."""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

from models import Account
from settings import Settings
from texts import N_
from wa.transport import Pairing, Session, SessionEvents, TransportSpec

if TYPE_CHECKING:
    from wa.whatsapp.session import WhatsAppSession


def _open_session(account: Account, s: Settings, events: SessionEvents) -> Session:
    return _session_class()(account.id, account.device_jid, s, events=events)


@functools.cache
def _session_class() -> type[WhatsAppSession]:
    """WhatsAppSession, loading neonize's Go library (workers only). neonize asks `uname -a` through
    `os.popen` as it loads and drops the pipe unclosed: nothing waited for the shell, which stayed a
    zombie under the worker for as long as it ran. The pipes opened meanwhile are closed here, which
    waits for their shells."""
    opened: list[os._wrap_close] = []
    popen = os.popen

    def kept(*args: Any, **kwargs: Any) -> os._wrap_close:
        opened.append(popen(*args, **kwargs))
        return opened[-1]

    os.popen = kept
    try:
        from wa.whatsapp.session import WhatsAppSession
    finally:
        os.popen = popen
        for pipe in opened:
            pipe.close()
    return WhatsAppSession


TRANSPORT = TransportSpec(
    name="whatsapp",
    label=N_("WhatsApp (link a phone)"),
    icon="smartphone",
    # neonize's SendMessage ignores the id we pass: whatsmeow picks one (wa/whatsapp/sender.py).
    takes_our_ids=False,
    pairing=Pairing.DEVICE,
    open_session=_open_session,
    pairing_help=N_(
        "**On the phone:** WhatsApp → Settings → **Linked devices** → **Link a device**, "
        "then scan the code. It changes about every 20 seconds; this page follows it."
    ),
)
