"""Tortoise models: the database is the source of truth for every contract and recipient."""

from models.account import Account
from models.contract import Contract, Recipient, StatusCount
from models.enums import ContractStatus, RecipientStatus, Transport
from models.sandbox import SandboxDelivery

__all__ = [
    "Account",
    "Contract",
    "ContractStatus",
    "Recipient",
    "RecipientStatus",
    "SandboxDelivery",
    "StatusCount",
    "Transport",
]
