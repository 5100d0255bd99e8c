"""Shared test support; each module documents what it offers. Child processes and ports:

* ``ports.free_port(host="127.0.0.1") -> int``
* ``processes``: ``start(argv, env=, cwd=) -> Child``, ``stop(child, grace=5.0)``,
  ``wait_for_port(port, ...)``, ``wait_for_http(port, path, ...)`` and their ``async_``
  twins, and the context managers ``running(argv, port=, http_path=, ready_line=,
  timeout=)`` / ``async_running(...)``, which always stop the child (its whole process
  group: SIGTERM, SIGKILL after the grace). ``Child`` has ``pid``, ``started``
  (monotonic), ``returncode``, ``output()``, ``wait_for_line(regex, timeout)``,
  ``wait_exit(timeout)`` (and ``async_`` versions).
"""
