"""The test bed's servers run in sessions of their own (#29 item 10): a Ctrl-C or a timeout of the
command that started the bed (`scripts/run`, `scripts/testbed up`) must not kill etcd under a
running kube-apiserver. Reads the pid files of the running bed of this environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def test_every_server_of_the_bed_leads_its_own_session(testbed):  # type: ignore[no-untyped-def]
    home = os.environ.get("ALP_TESTBED_HOME") or (
        "/var/cache/alp-testbed" if os.getuid() == 0 else str(Path.home() / ".cache/alp-testbed")
    )
    run = Path(home) / "run"
    pids = {}
    for f in [
        *run.glob("k8s/*.pid"),
        *run.glob("kafka/*.pid"),
        *run.glob("alertmanager/*.pid"),
        *run.glob("standins/*.pid"),
    ]:
        pid = int(f.read_text().strip())
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        pids[f.stem] = pid
    if "etcd" not in pids:
        pytest.fail(f"no running etcd in {run}: run `scripts/testbed up`")
    shared = {name: pid for name, pid in pids.items() if os.getsid(pid) != pid}
    assert not shared, f"servers in their caller's session (a Ctrl-C there kills them): {shared}"
