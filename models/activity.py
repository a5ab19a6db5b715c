"""What the dashboard shows over time without reading a million rows: sends per minute, accounts'
health signals per minute, live workers."""

from tortoise import fields
from tortoise.models import Model

from models.enums import Signal
from models.ids import ID_LENGTH


class SendMinute(Model):
    """Outcomes of one contract by one account in one minute, added to in the transaction that
    records them."""

    id = fields.BigIntField(primary_key=True)
    contract_id = fields.CharField(max_length=ID_LENGTH)
    account_id = fields.CharField(max_length=ID_LENGTH, null=True)  # null only in rows older than pools
    minute = fields.DatetimeField()
    sent = fields.IntField(default=0)
    failed = fields.IntField(default=0)
    retried = fields.IntField(default=0, db_default=0)  # transient errors: sent again later

    class Meta:
        table = "send_minutes"
        unique_together = (("contract_id", "account_id", "minute"),)
        indexes = (("minute", "account_id"),)  # every account's figures over the last hour


class AccountSignal(Model):
    """What the network did to an account in one minute: how often it rate-limited or disconnected it."""

    id = fields.BigIntField(primary_key=True)
    account = fields.ForeignKeyField("models.Account", related_name="signals", on_delete=fields.CASCADE)
    minute = fields.DatetimeField()
    kind = fields.CharEnumField(Signal, max_length=16)
    n = fields.IntField(default=0)

    class Meta:
        table = "account_signals"
        unique_together = (("account_id", "minute", "kind"),)


class Worker(Model):
    """A worker process, as it last reported itself (every reconcile tick)."""

    id = fields.CharField(max_length=64, primary_key=True)
    hostname = fields.CharField(max_length=200)
    pid = fields.IntField()
    started_at = fields.DatetimeField()
    seen_at = fields.DatetimeField()

    class Meta:
        table = "workers"
