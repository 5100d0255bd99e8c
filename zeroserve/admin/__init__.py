"""Admin API, metrics and status page."""
