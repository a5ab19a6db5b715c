"""Browser pages (NiceGUI). They call services/, never the HTTP API."""
