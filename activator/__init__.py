"""The activator: holds requests for revisions in Proxy mode and pokes the autoscaler."""
