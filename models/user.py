from tortoise import fields
from tortoise.models import Model


class User(Model):
    """A dashboard user (marketing staff). The first is created on the login page of a fresh install."""

    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=100, unique=True)
    password_hash = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)
    # The dashboard's language (en, ru) and time zone (an IANA name) the user chose; None: the
    # browser's.
    language = fields.CharField(max_length=8, null=True)
    time_zone = fields.CharField(max_length=64, null=True)
    # admin: accounts, limits and users besides contracts; operator: contracts (services/team.py).
    role = fields.CharField(max_length=16, default="operator", db_default="operator")
    # The new-contract wizard's choices so far (ui/pages/wizard.py), so that a reload keeps them.
    wizard_draft = fields.JSONField(null=True)

    class Meta:
        table = "users"


class Installation(Model):
    """The one row (id 1) saying who claimed this installation as its first user.

    Its primary key makes "exactly one first user" the database's rule, not a check that two
    requests can both pass."""

    id = fields.IntField(primary_key=True, generated=False)
    claimed_by = fields.CharField(max_length=100)
    claimed_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "installation"


class WebSession(Model):
    """A dashboard sign-in, or the one-time ticket (pending) that becomes one.

    The browser holds the token and only its hash is stored; deleting the row signs the browser out."""

    id = fields.BigIntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    username = fields.CharField(max_length=100)
    pending = fields.BooleanField(default=True)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "web_sessions"


class Invite(Model):
    """A one-time link that lets whoever opens it create a user with `role` (services/team.py).

    Only a hash of its token is stored; it is used up by the user it creates, or revoked."""

    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    role = fields.CharField(max_length=16)
    note = fields.CharField(max_length=200, default="")  # whom it is for, as its maker noted
    created_by = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    used_by = fields.CharField(max_length=100, null=True)

    class Meta:
        table = "invites"
