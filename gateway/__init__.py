"""The gateway: the proxy engine plus routing by host, traffic weight and tag."""
