"""The runbook's world for the test bed, defined once: kube (the Kubernetes objects), standins and client
(the kubelet, metrics and platform stand-ins), demo (`scripts/testbed demo`: the world with faults)."""
