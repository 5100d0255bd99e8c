"""Zeroserve: a serverless, scale-to-zero inference gateway."""

__version__ = "0.1.0"
