"""The engine: a built site opened once (``engine.open_engine``), then one request path per
request: route -> page table -> plan -> one strategy module -> ``Response``."""
