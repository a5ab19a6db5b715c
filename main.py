"""The web process's entry point: `python main.py` (NiceGUI pages and the API on port 5001).

It imports nothing at module level: the process pool that checks phone numbers spawns children that
re-import this module, and they must not load the whole web app.
"""

if __name__ == "__main__":
    import os

    os.umask(0o077)  # the data folder, the database, NiceGUI's storage: owner only

    from models.db import private_data_dir
    from services.apikey import key_notice

    # NiceGUI keeps each signed-in user's storage in files; it reads this at import, so before it.
    os.environ.setdefault("NICEGUI_STORAGE_PATH", str(private_data_dir() / "nicegui"))
    print(key_notice(), flush=True)

    from ui.server import run

    run()
