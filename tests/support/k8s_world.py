"""The runbook's world: defined once in scripts/world/kube.py (also used by `scripts/testbed demo`)."""

from scripts.world.kube import (  # noqa: F401  (the names tests import from here)
    CONFIGMAPS,
    ENV,
    NODE,
    PLATFORM,
    SERVICES,
    create_world,
    delete_namespace,
    deployment,
    make_pod,
    register_node,
)
