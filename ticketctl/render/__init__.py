"""Renderers of the stack model: the Compose target, the Kubernetes manifests, the architecture diagram."""
