"""``perseus deploy``: wheels for a target platform, the ``pkg/`` layout, ``pkg/server`` and
the standalone start-up it runs."""
