from tortoise import fields
from tortoise.models import Model

from models.ids import ID_LENGTH, new_id


def _audience_id() -> str:
    return new_id("aud")


class Audience(Model):
    """Recipients as a file brought them (services/audiences.py): a saved list with a name and tags,
    reusable in the wizard, or (no name) the upload of a user's wizard draft.

    The rows are kept as the CSV bytes they came in, zlib-compressed, with what reads them again
    (encoding, delimiter, header rows to skip): the wizard's Table, stored."""

    id = fields.CharField(max_length=ID_LENGTH, primary_key=True, default=_audience_id)
    name = fields.CharField(max_length=200, null=True)
    tags = fields.JSONField(default=list)
    owner = fields.CharField(max_length=100)
    file_name = fields.CharField(max_length=255, default="")
    columns = fields.JSONField()
    row_count = fields.IntField()
    codec = fields.CharField(max_length=32)
    delimiter = fields.CharField(max_length=4)
    skip = fields.IntField()
    size = fields.BigIntField()  # the CSV's bytes before compression
    content = fields.BinaryField()
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "audiences"
