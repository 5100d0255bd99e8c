"""Test harnesses that wire the parts together in-process."""
