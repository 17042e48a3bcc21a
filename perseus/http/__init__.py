"""HTTP primitives shared by the engine, its strategies and the stores: the neutral
``Response``, ETags and conditional requests, content-encoding negotiation, static files,
response bodies, and every URL perseus itself serves. Nothing here imports the engine."""
