"""Server adapters: the engine answers with a neutral ``Response``; RSGI and ASGI carry it."""
