from tortoise import fields
from tortoise.models import Model


class SandboxDelivery(Model):
    """The simulated network's log: one row per message id delivered, with how often it was sent."""

    message_id = fields.CharField(max_length=40, primary_key=True)
    account_id = fields.CharField(max_length=40, db_index=True)
    phone_number = fields.CharField(max_length=20)
    attempts = fields.IntField(default=1)
    delivered_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "sandbox_deliveries"
