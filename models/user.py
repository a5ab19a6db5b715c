from tortoise import fields
from tortoise.models import Model


class User(Model):
    """A dashboard user (marketing staff). The first is created on the login page of a fresh install."""

    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=100, unique=True)
    password_hash = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "users"
