"""The web process's entry point: `python main.py` (NiceGUI pages and the API on port 5001).

It imports nothing at module level: the process pool that checks phone numbers spawns children that
re-import this module, and they must not load the whole web app.
"""

if __name__ == "__main__":
    from ui.server import run

    run()
