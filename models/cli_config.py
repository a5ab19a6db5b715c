"""For the `tortoise` CLI only: `tortoise -c models.cli_config.TORTOISE_ORM makemigrations`."""

from settings import tortoise_config

TORTOISE_ORM = tortoise_config()
