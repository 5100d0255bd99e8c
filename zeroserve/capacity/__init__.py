"""Leases on replicas: per-replica in-flight counts, containerConcurrency, the wait queue."""
