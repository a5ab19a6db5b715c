"""What WhatsApp told us about numbers: who opted out of an account's messages, who is on WhatsApp."""

from tortoise import fields
from tortoise.models import Model

from models.ids import ID_LENGTH


class OptOut(Model):
    """A number that asked an account to stop (a STOP reply, or added by staff): never sent to again."""

    id = fields.BigIntField(primary_key=True)
    account_id = fields.CharField(max_length=ID_LENGTH)
    phone_number = fields.CharField(max_length=20)
    reason = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "opt_outs"
        unique_together = (("account_id", "phone_number"),)


class KnownNumber(Model):
    """The cached answer of WhatsApp's is-on-WhatsApp check, so a number is asked about once."""

    phone_number = fields.CharField(max_length=20, primary_key=True)
    on_whatsapp = fields.BooleanField()
    checked_at = fields.DatetimeField()

    class Meta:
        table = "known_numbers"
