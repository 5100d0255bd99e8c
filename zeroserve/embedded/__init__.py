"""The all-in-one process: every part wired together on one event loop.

- ``server.EmbeddedServer``: store, elector, capacity tracker, local runtime, controller,
  scaling loop, endpoints feed, stats reporter, poker, cold-start recorder, the proxy
  engine behind the gateway's router, and the admin app, started and closed in order;
- ``snapshot``: the admin's ``ServerSnapshot`` from the parts' read-outs;
- ``process``: ``zeroserve serve`` as a process (open-files limit, signals, uvloop).

Nothing is imported here, so ``import zeroserve.embedded.process`` stays cheap until the
server is built.
"""
