"""Real WhatsApp through neonize: a linked device per account (session.py), its sender (sender.py) and
the neonize client it is built on (client.py). Importing this package loads no neonize: the web
process needs only the spec; a worker's session host opens sessions."""

from __future__ import annotations

from models import Account
from settings import Settings
from texts import N_
from wa.transport import Pairing, Session, SessionEvents, TransportSpec


def _open_session(account: Account, s: Settings, events: SessionEvents) -> Session:
    from wa.whatsapp.session import WhatsAppSession  # loads neonize's Go library: workers only

    return WhatsAppSession(account.id, account.device_jid, s, events=events)


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
