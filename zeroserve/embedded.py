"""The all-in-one process: every part wired together in one event loop."""
