"""Facts read from Kubernetes objects, shared by checks, actions and probes."""
