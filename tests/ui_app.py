"""The dashboard as NiceGUI's `user` fixture runs it (pytest ini `main_file`): the same pages as the
web process, without a server (the suite's own fixtures open the database and the broker)."""

from nicegui import ui

from services.users import session_secret
from ui import routes

routes.register()
ui.run(storage_secret=session_secret())
