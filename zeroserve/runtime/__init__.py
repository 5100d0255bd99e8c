"""Where replicas live: local processes or Kubernetes Deployments."""
