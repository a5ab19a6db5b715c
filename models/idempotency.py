"""Idempotency keys of the create routes: a retried request gets the first answer back."""

from tortoise import fields
from tortoise.models import Model


class IdempotencyKey(Model):
    """A client's Idempotency-Key on one route, and the first answer (empty while the first request runs)."""

    key = fields.CharField(max_length=300, primary_key=True)  # route + the client's key
    request_hash = fields.CharField(max_length=64)
    response = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "idempotency_keys"
