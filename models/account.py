from tortoise import fields
from tortoise.models import Model

from models.enums import AccountStatus
from models.ids import ID_LENGTH, new_id


def _account_id() -> str:
    return new_id("acc")


class Account(Model):
    """A sending identity. Pacing state and the worker lease live here so a Redis flush loses neither."""

    id = fields.CharField(max_length=ID_LENGTH, primary_key=True, default=_account_id)
    name = fields.CharField(max_length=200, default="")
    # The name of its transport in wa/registry.py (sandbox, whatsapp, or a plug-in's).
    transport = fields.CharField(max_length=16, default="sandbox")
    use_limits = fields.BooleanField(default=True)
    status = fields.CharEnumField(AccountStatus, max_length=20, default=AccountStatus.CONNECTED)
    status_reason = fields.TextField(null=True)
    # When the status last changed: a pool's failover waits FAILOVER_GRACE_S on a DISCONNECTED account.
    status_since = fields.DatetimeField(null=True)
    # Once paired (whatsapp): the linked phone, its push name, and the device to resume the session by.
    phone = fields.CharField(max_length=32, null=True)
    push_name = fields.CharField(max_length=200, null=True)
    device_jid = fields.JSONField(null=True)
    # Pairing in progress: the QR code WhatsApp shows now, or a phone-code pairing asked for and its code.
    qr_code = fields.TextField(null=True)
    qr_at = fields.DatetimeField(null=True)
    pair_phone = fields.CharField(max_length=32, null=True)
    pair_code = fields.CharField(max_length=32, null=True)
    # A recipient found SENDING after a crash may or may not have gone out: send again (True) or fail it.
    resend_uncertain = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    # The transport's settings, for a transport that has any: the sandbox network's latency and
    # failure rates (wa/sandbox.py).
    sandbox_config = fields.JSONField(default=dict)
    # Pure pacing state (services/pacing.py), written only by the lease holder.
    pacing_state = fields.JSONField(default=dict)
    # A warm-up plan: the daily cap for each day of the account's age (then the cap by age applies).
    warmup_plan = fields.JSONField(null=True)
    next_due_at = fields.DatetimeField(null=True)
    # A health rule's pause (rate-limited by the network): no sends before this; status_reason says why.
    paused_until = fields.DatetimeField(null=True)
    # The health rules (services/account_health.py): its pacing gaps and breaks are stretched by this
    # while it is slowed down, and its figures count from this minute on (the one after its last pause).
    pace_factor = fields.FloatField(default=1.0, db_default=1.0)
    health_since = fields.DatetimeField(null=True)
    # Fenced lease: every acquisition draws a new owner token, and every write checks it.
    lease_owner = fields.CharField(max_length=64, null=True)
    lease_until = fields.DatetimeField(null=True)

    class Meta:
        table = "accounts"
        indexes = (("lease_owner",),)  # a worker renews the leases of thousands of accounts by token
