"""Restarts judged over a window, not restartCount alone (issue #25, round 4): the count is since
the pod was created; a restart older than the window is history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kubernetes import client

from commands.kube.facts import pod_state

NOW = datetime(2026, 12, 7, 22, 0, tzinfo=UTC)


def pod(restarts: int, ended: datetime | None, reason: str = "Error", started: datetime | None = None) -> client.V1Pod:
    last = client.V1ContainerStateTerminated(exit_code=1, reason=reason, finished_at=ended) if ended else None
    status = client.V1ContainerStatus(
        name="app",
        image="a",
        image_id="",
        ready=True,
        restart_count=restarts,
        state=client.V1ContainerState(running=client.V1ContainerStateRunning(started_at=started or ended)),
        last_state=client.V1ContainerState(terminated=last),
    )
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name="auth-service-1", namespace="prod"),
        spec=client.V1PodSpec(containers=[client.V1Container(name="app")]),
        status=client.V1PodStatus(phase="Running", container_statuses=[status]),
    )


def test_an_old_restart_is_history():
    st = pod_state(pod(12, NOW - timedelta(days=3)), 3600, NOW)
    assert not st.restarting(3) and st.restarts == 12
    assert st.restart_history() == "12 restart(s), the last 3 d ago"


def test_a_recent_restart_is_judged():
    assert pod_state(pod(4, NOW - timedelta(minutes=5)), 3600, NOW).restarting(3)
    assert not pod_state(pod(4, NOW - timedelta(minutes=5)), 60, NOW).restarting(3)  # the window is configuration


def test_the_current_start_when_no_termination_is_known():
    assert not pod_state(pod(5, None, started=NOW - timedelta(days=1)), 3600, NOW).restarting(3)
    assert pod_state(pod(5, None, started=NOW - timedelta(minutes=2)), 3600, NOW).restarting(3)


def test_an_old_oom_kill_is_no_reason_now():
    old = pod_state(pod(2, NOW - timedelta(days=2), "OOMKilled"), 3600, NOW)
    assert not old.oom_killed and old.healthy
    recent = pod_state(pod(2, NOW - timedelta(minutes=10), "OOMKilled"), 3600, NOW)
    assert recent.oom_killed and "app: last restart OOMKilled" in recent.reasons
