"""The JSON API: the seed's REST contract plus what it lacks (accounts, OpenAPI at /docs)."""
