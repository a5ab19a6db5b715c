"""What the dashboard shows over time without reading a million rows: sends per minute, live workers."""

from tortoise import fields
from tortoise.models import Model

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

    class Meta:
        table = "send_minutes"
        unique_together = (("contract_id", "account_id", "minute"),)


class Worker(Model):
    """A worker process, as it last reported itself (every reconcile tick)."""

    id = fields.CharField(max_length=64, primary_key=True)
    hostname = fields.CharField(max_length=200)
    pid = fields.IntField()
    started_at = fields.DatetimeField()
    seen_at = fields.DatetimeField()

    class Meta:
        table = "workers"
