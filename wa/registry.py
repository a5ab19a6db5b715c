"""Which transport drives an account."""

from models import Account, Transport
from wa.base import Transport as TransportProtocol
from wa.sandbox import SandboxTransport


def transport_for(account: Account) -> TransportProtocol:
    if account.transport == Transport.SANDBOX:
        return SandboxTransport(account.id, account.sandbox_config)
    raise NotImplementedError(f"transport {account.transport!s} is not available in this build")
