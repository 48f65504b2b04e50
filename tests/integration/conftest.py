"""Fixtures of the integration tier (the test bed's servers): the metrics API of the kubelet stand-in."""

from __future__ import annotations

import pytest

from scripts.world.kube import register_metrics_api, unregister_metrics_api


@pytest.fixture
def metrics_api(kube_admin, kubelet):
    """metrics.k8s.io served by the metrics stand-in, registered as an APIService on the real API server."""
    register_metrics_api(kube_admin, kubelet.metrics_port)
    yield kubelet
    unregister_metrics_api(kube_admin)
