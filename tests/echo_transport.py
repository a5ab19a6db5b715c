"""A transport plugged in from outside the product (TRANSPORT_PLUGINS=["tests.echo_transport"]): it
proves that a new transport is one module with one `TRANSPORT` entry and touches no product file.

Like most HTTP gateways it picks its own message ids; each delivery is a line in ECHO_TRANSPORT_LOG."""

from __future__ import annotations

import json
import os
import uuid

from models import Account
from wa.transport import Pairing, TransportSpec


class EchoSender:
    def __init__(self, account_id: str) -> None:
        self.account_id = account_id

    async def show_typing(self, phone: str, seconds: float) -> None:
        return None

    async def send(self, phone: str, text: str, message_id: str, attempt: int) -> str:
        network_id = f"echo-{uuid.uuid4().hex}"
        line = {"account": self.account_id, "phone": phone, "text": text, "id": network_id}
        with open(os.environ["ECHO_TRANSPORT_LOG"], "a", encoding="utf-8") as log:
            log.write(json.dumps(line) + "\n")
        return network_id

    async def close(self) -> None:
        return None


def _sender(account: Account) -> EchoSender:
    return EchoSender(account.id)


TRANSPORT = TransportSpec(
    name="echo",
    label="Echo (a test transport)",
    icon="campaign",
    takes_our_ids=False,
    pairing=Pairing.NONE,
    build_sender=_sender,
)
