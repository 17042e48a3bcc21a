"""``perseus build`` (prerendering into ``dist/``) and ``perseus export`` (static files)."""
