"""The protocol-level HTTP/1.1 data path."""
