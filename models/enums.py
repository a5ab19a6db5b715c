"""Status names shared by the database, the API and the workers (the seed's names, upper-case)."""

from enum import StrEnum


class ContractStatus(StrEnum):
    PENDING = "PENDING"
    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


ACTIVE_CONTRACT = (ContractStatus.QUEUED, ContractStatus.IN_PROGRESS)


class RecipientStatus(StrEnum):
    PENDING = "PENDING"
    QUEUED = "QUEUED"
    SENDING = "SENDING"
    SENT = "SENT"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"


class AccountStatus(StrEnum):
    PAIRING = "PAIRING"
    CONNECTED = "CONNECTED"
    DISCONNECTED = "DISCONNECTED"
    LOGGED_OUT = "LOGGED_OUT"
    BANNED = "BANNED"


class Signal(StrEnum):
    """What the network did to an account, counted per minute for the health rules."""

    RATE_LIMIT = "RATE_LIMIT"  # it refused the account for sending too much
    DISCONNECT = "DISCONNECT"  # the account's connection was lost


# An account of a session-driven transport (whatsapp) in one of these needs its session connected
# by some worker.
SESSION_WANTED = (AccountStatus.PAIRING, AccountStatus.CONNECTED, AccountStatus.DISCONNECTED)
