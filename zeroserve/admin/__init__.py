"""Admin API, metrics and status page.

The admin reports on the running parts without importing them: the wiring implements
``source.SnapshotSource`` and hands it to ``app.create_app``.

- ``model``: the frozen ``ServerSnapshot`` everything is rendered from;
- ``source``: the seams the wiring fills (``SnapshotSource``; ``ResourceWriter`` later);
- ``metrics``: a Prometheus collector over snapshots (the metric names are listed there);
- ``codec``: snapshots as the API's JSON (KServe's status shape) and back;
- ``app``: the aiohttp application (``/healthz``, ``/metrics``, ``/api/v1/…``, ``/``);
- ``status_rows``, ``status_table``, ``status_page``: the report as text and as HTML;
- ``client``: the blocking GET behind ``zeroserve status``.

Nothing is imported here, so ``zeroserve status`` loads neither aiohttp nor
prometheus-client.
"""
