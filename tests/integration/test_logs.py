"""`alp logs <service>`: pods on the real API server, logs through the fake kubelet behind it
(the API server proxies pods/log, so RBAC and routing stay real)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import commands.changes
import commands.logs  # noqa: F401  (each registers its step)
from bot.router import CheckCommand, parse
from commands.logs import level_of
from commands.params import UsageError
from commands.registry import FIRST_STEPS, CheckContext
from commands.report import Report, Severity
from commands.runner import run_check
from tests.support.checks_env import config_for
from tests.support.k8s_world import PLATFORM, make_pod
from tests.support.slack_requests import blocks_text, command

POD_A = "\n".join(
    [
        *(f"2026-11-29T10:00:{i:02d}Z ERROR db timeout after {3000 + i}ms user=u{i}" for i in range(5)),
        *(f"2026-11-29T10:01:{i:02d}Z INFO GET /progress 200 in {10 + i}ms" for i in range(3)),
        "2026-11-29T10:02:00Z WARN login with password=hunter2 rejected",
    ]
)
POD_B = "\n".join(
    [
        *(f"2026-11-29T10:00:{i:02d}Z ERROR db timeout after {2500 + i}ms user=v{i}" for i in range(4)),
        *(f"2026-11-29T10:01:{i:02d}Z INFO GET /progress 200 in {20 + i}ms" for i in range(2)),
        "2026-11-29T10:03:00Z INFO calling https://svc:s3cr3tpw@api.internal/v1 with Authorization: Bearer abc.def.ghi",
    ]
)
POD_C = "2026-11-29T10:04:00Z FATAL out of memory: killing worker 7"


async def logs(cfg: Any, **params: Any) -> Report:
    spec = FIRST_STEPS.get("logs")
    assert spec is not None
    return await run_check(spec, CheckContext(cfg), spec.params.model_validate(params))


@pytest.fixture
def three_pods(kube_admin, kubelet, ns):  # type: ignore[no-untyped-def]
    for name, text, restarts in (("svc-a", POD_A, 0), ("svc-b", POD_B, 0), ("svc-c", POD_C, 3)):
        make_pod(kube_admin, ns, name, "progress-service", restarts=restarts)
        kubelet.logs[(ns, name)] = text
    kubelet.previous_logs[(ns, "svc-c")] = "2026-11-29T09:59:00Z panic: nil map in Scheduler.pick\n" * 2
    return ns


def templates(report: Report) -> dict[str, dict[str, Any]]:
    return {t["template"]: t for t in report.data["templates"]}


async def test_lines_of_every_pod_grouped_worst_then_most_frequent(testbed, platform, three_pods):
    report = await logs(config_for(testbed, platform, three_pods), service="progress-service")

    t = report.data["templates"]
    assert [x["level"] for x in t[:2]] == ["fatal", "error"]
    timeout = t[1]
    assert timeout["count"] == 9 and timeout["pods"] == ["svc-a", "svc-b"]
    assert "ERROR db timeout after" in timeout["template"] and "<" in timeout["template"]
    assert timeout["example"].startswith("2026-11-29T10:00:00Z ERROR db timeout")
    info = next(x for x in t if "GET /progress" in x["template"])
    assert info["count"] == 5 and info["level"] == "info"
    assert t.index(info) > t.index(timeout)
    assert sum(x["count"] for x in t) == 17 == len(report.data["raw_lines"])
    assert timeout["first_seen"] and timeout["first_seen"] <= timeout["last_seen"]  # from the kubelet's timestamps
    main = next(f for f in report.findings if f.probe == "logs")
    assert main.severity is Severity.WARNING
    assert "17 line(s) from 3 container(s)" in main.title and "10 error line(s)" in main.title
    assert "last 1h" in main.detail and "500 lines per container" in main.detail


async def test_secrets_are_masked_in_templates_examples_and_raw_lines(testbed, platform, three_pods):
    report = await logs(config_for(testbed, platform, three_pods), service="progress-service")

    text = report.to_json()
    for secret in ("hunter2", "s3cr3tpw", "abc.def.ghi"):
        assert secret not in text
    assert any("password=***" in line for line in report.data["raw_lines"])
    assert any("Bearer ***" in t["example"] for t in report.data["templates"])


async def test_grep_filters_before_grouping(testbed, platform, three_pods, kubelet):
    report = await logs(config_for(testbed, platform, three_pods), service="progress-service", grep="timeout|FATAL")

    assert {t["count"] for t in report.data["templates"]} == {9, 1}
    assert len(report.data["raw_lines"]) == 10
    assert "matching 'timeout|FATAL'" in next(f for f in report.findings if f.probe == "logs").detail
    none = await logs(config_for(testbed, platform, three_pods), service="progress-service", grep="nothing-like-this")
    assert none.findings[0].severity is Severity.OK and "no log lines match" in none.findings[0].title


async def test_previous_reads_the_container_before_its_restart(testbed, platform, three_pods, kubelet):
    report = await logs(config_for(testbed, platform, three_pods), service="progress-service", previous=True)

    asked = [r for r in kubelet.log_requests if r["pod"] == "svc-c" and r.get("previous") == "true"]
    assert asked, "the previous container was asked for"
    assert [t["count"] for t in report.data["templates"]] == [2]
    assert "panic: nil map" in report.data["templates"][0]["example"]
    assert report.data["templates"][0]["level"] == "fatal"
    assert any("svc-a/app: never restarted" in n for n in report.data["notes"])


async def test_unreadable_logs_and_no_pods_are_unknown(testbed, platform, kube_admin, kubelet, ns):
    make_pod(kube_admin, ns, "crashy-1", "crashy", restarts=4)  # restarted, but the kubelet has no previous log
    make_pod(kube_admin, ns, "steady-1", "crashy-not")
    nothing = await logs(config_for(testbed, platform, ns), service="nobody-here")
    unreadable = await logs(config_for(testbed, platform, ns), service="crashy", previous=True)
    never_restarted = await logs(config_for(testbed, platform, ns), service="crashy-not", previous=True)

    assert nothing.severity is Severity.UNKNOWN
    assert "no running pod labelled app=nobody-here" in nothing.findings[0].detail
    assert unreadable.severity is Severity.UNKNOWN
    assert never_restarted.severity is Severity.UNKNOWN and "never restarted" in never_restarted.findings[0].detail
    f = unreadable.findings[0]
    assert "could not be read" in f.title and "previous terminated container" in json.dumps(f.model_dump())


async def test_tail_limit_is_said_not_hidden(testbed, platform, three_pods):
    report = await logs(config_for(testbed, platform, three_pods), service="progress-service", tail=3)

    assert len(report.data["raw_lines"]) == 7  # 3 + 3 + 1
    assert any("svc-a/app: the tail limit (3 lines) was reached" in n for n in report.data["notes"])
    assert "tail limit" in next(f for f in report.findings if f.probe == "logs").detail


def test_the_words_parse_into_requests():
    req = parse("logs user-service --grep 'error|fatal' --since 30m --tail 50 --previous")
    assert isinstance(req, CheckCommand) and req.target == "logs"
    p = req.params.model_dump()
    assert p == {"service": "user-service", "grep": "error|fatal", "since": 1800, "tail": 50, "previous": True}
    assert parse("changes --since 2d --service auth-service").params.model_dump() == {
        "since": 172800,
        "service": "auth-service",
    }
    for bad, says in (
        ("logs", "needs a service"),
        ("logs --grep x", "needs a service"),
        ("logs svc --grep '('", "--grep"),
        ("logs svc --since soon", "not a duration"),
        ("changes --since 0m", "between 1s"),
        ("changes --colour red", "unknown option --colour"),
        ("logs 'Bad Name!'", "--service"),
    ):
        with pytest.raises(UsageError, match=says.replace("(", r"\(")):
            parse(bad)


def test_logs_through_slack_groups_and_attaches_every_line(bot, fake_slack, kube_admin, kubelet, cleanup_pods):
    for name, text in (("slk-logs-a", POD_A), ("slk-logs-b", POD_B)):
        make_pod(kube_admin, PLATFORM, name, "slack-logs-svc")
        kubelet.logs[(PLATFORM, name)] = text
        cleanup_pods.append((PLATFORM, name))

    status, _, took = command(bot, fake_slack, "logs slack-logs-svc --since 2h")

    assert status == 200 and took < 3
    final = fake_slack.wait_for("chat.update", lambda c: "slack-logs-svc" in blocks_text(c.args.get("blocks", [])))
    text = blocks_text(final.args["blocks"])
    assert "16 line(s) from 2 container(s)" in text and "ERROR db timeout after" in text
    assert "hunter2" not in text and "s3cr3tpw" not in text
    upload = fake_slack.wait_for("upload", lambda c: "GET /progress" in c.args.get("content", ""))
    raw = upload.args["content"]
    assert len(raw.splitlines()) == 16 and "slk-logs-b/app" in raw
    assert "hunter2" not in raw and "s3cr3tpw" not in raw and "password=***" in raw


def test_raw_lines_where_the_bot_cannot_upload_say_what_is_left_out(bot, fake_slack, kube_admin, kubelet, cleanup_pods):
    make_pod(kube_admin, PLATFORM, "slk-big-a", "slack-big-svc")
    cleanup_pods.append((PLATFORM, "slk-big-a"))
    kubelet.logs[(PLATFORM, "slk-big-a")] = "\n".join(f"INFO request {i} served " + "x" * 90 for i in range(600))
    fake_slack.not_in_channel.add("C0PRIVATE2")

    command(bot, fake_slack, "logs slack-big-svc --tail 600", channel="C0PRIVATE2")

    raw = fake_slack.wait_for(
        "response_url", lambda c: "slack-big-svc" in c.args.get("text", "") and "```" in c.args.get("text", "")
    )
    text = raw.args["text"]
    assert "600 line(s) read" in text and "more characters: the bot cannot upload files here" in text


LEVELLED = "\n".join(
    [
        "2026-11-29T10:00:00Z INFO retrying 0 failed jobs, all fine",
        "2026-11-29T10:00:01Z WARN could not reach cache, error budget ok",
        '{"ts":"2026-11-29T10:00:02Z","level":"info","msg":"request failed over to replica"}',
        'level=debug msg="exception handler installed"',
        "[INFO] 2026-11-29 10:00:04,000 panic button test passed",
        "2026-11-29T10:00:05Z ERROR db timeout",
        "worker crashed: unhandled exception",
    ]
)


async def test_a_line_s_own_level_wins_over_words_in_its_message(testbed, platform, kube_admin, kubelet, ns):
    make_pod(kube_admin, ns, "lvl-1", "levelled")
    kubelet.logs[(ns, "lvl-1")] = LEVELLED

    report = await logs(config_for(testbed, platform, ns), service="levelled", tail=50)

    level = {t["example"].split("Z ", 1)[-1][:24]: t["level"] for t in report.data["templates"]}
    by_line = {line: level_of(line) for line in LEVELLED.splitlines()}
    assert list(by_line.values()) == ["info", "warning", "info", "info", "info", "error", "error"], by_line
    assert sum(t["count"] for t in report.data["templates"] if t["level"] == "error") == 2, level
    assert "2 error line(s)" in next(f for f in report.findings if f.probe == "logs").title


def test_tail_needs_a_number():
    for bad in ("logs svc --tail", "logs svc --tail yes", "logs svc --tail 0"):
        with pytest.raises(UsageError, match="--tail"):
            parse(bad)


async def test_an_unknown_service_names_the_closest_apps(testbed, platform, kube_admin, kubelet, ns):
    make_pod(kube_admin, ns, "closest-1", "progress-service")

    report = await logs(config_for(testbed, platform, ns), service="progres-service")

    assert report.severity is Severity.UNKNOWN
    assert "Did you mean progress-service?" in report.findings[0].detail
    assert report.data["templates"] == [] and report.data["raw_lines"] == []  # the same --json shape
