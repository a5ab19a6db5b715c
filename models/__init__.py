"""Tortoise models: the database is the source of truth for every contract and recipient."""

from models.account import Account
from models.activity import AccountSignal, SendMinute, Worker
from models.audience import Audience
from models.contract import Contract, PoolMember, Recipient, StatusCount
from models.enums import AccountStatus, ContractStatus, RecipientStatus, Signal
from models.idempotency import IdempotencyKey
from models.numbers import KnownNumber, OptOut
from models.sandbox import SandboxDelivery
from models.user import Installation, Invite, User, WebSession

__all__ = [
    "Account",
    "AccountSignal",
    "AccountStatus",
    "Audience",
    "Contract",
    "ContractStatus",
    "IdempotencyKey",
    "Installation",
    "Invite",
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
