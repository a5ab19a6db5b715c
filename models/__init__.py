"""Tortoise models: the database is the source of truth for every contract and recipient."""

from models.account import Account
from models.activity import AccountSignal, SendMinute, Worker
from models.contract import Contract, PoolMember, Recipient, StatusCount
from models.enums import AccountStatus, ContractStatus, RecipientStatus, Signal
from models.idempotency import IdempotencyKey
from models.numbers import KnownNumber, OptOut
from models.sandbox import SandboxDelivery
from models.user import Installation, User, WebSession

__all__ = [
    "Account",
    "AccountSignal",
    "AccountStatus",
    "Contract",
    "ContractStatus",
    "IdempotencyKey",
    "Installation",
    "KnownNumber",
    "OptOut",
    "PoolMember",
    "Recipient",
    "RecipientStatus",
    "SandboxDelivery",
    "SendMinute",
    "Signal",
    "StatusCount",
    "User",
    "WebSession",
    "Worker",
]
