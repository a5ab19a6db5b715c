"""The operations the API and the UI both call."""
