"""The platform stand-in's /metrics is valid Prometheus text whatever a service or pod is called:
label values escaped (`\\`, `"`, newline) as the exposition format requires."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from scripts.world.standins import State, exposition


def test_label_values_with_quotes_backslashes_and_newlines_are_escaped() -> None:
    st = State()
    odd = 'we"ird\\svc\nname'
    st.traffic[odd] = {"rps": 5.0}
    st.containers[("ns", 'pod"1', "app")] = {"bytes": 10.0, "limit": 20.0}
    samples = [s for fam in text_string_to_metric_families(exposition(st)) for s in fam.samples]
    assert any(s.labels.get("service") == odd for s in samples)
    assert any(s.labels.get("pod") == 'pod"1' for s in samples)
