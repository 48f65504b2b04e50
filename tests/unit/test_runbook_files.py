"""Runbook files (`ALP_RUNBOOK_DIR`): loading, lint with FILE:LINE, the published schema, atomic reloads.

No server: these read files and the registries only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import commands.actions
import commands.changes
import commands.checks
import commands.logs  # noqa: F401  (the built-in names and actions a file is linted against)
from bot.runbook import SCHEMA_PATH, RunbookWatcher, load, schema_json
from commands import catalogue
from commands.config import ChecksConfig
from commands.runbook import symptoms

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
services:
  - {name: billing-service, port: 3010}
symptoms:
  - name: billing-webhooks
    title: Payment webhooks failing
    section: "Payment webhooks"
    services: [billing-service]
    probes:
      - id: errors
        kind: logs
        selector: app=billing-service
        pattern: 'webhook .* failed'
        levels: [ERROR]
        warning: 1
        critical: 10
      - id: pods
        kind: pods
        selector: app=billing-service
      - id: backlog
        kind: sql
        query: SELECT count(*) FROM pg_stat_activity WHERE state = 'active'
        warning: 50
    remedies:
      - action: restart
        params: {deployment: "{{pods.deployment}}"}
        when: [pods, errors]
        why: the webhook worker is stuck
"""


def write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text)
    return p


def lint_lines(directory: Path) -> list[str]:
    _, problems = load(directory, ChecksConfig())
    return [str(p) for p in problems]


def test_a_valid_file_loads_with_no_problems(tmp_path: Path) -> None:
    write(tmp_path, "billing.yaml", GOOD)
    assert lint_lines(tmp_path) == []


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (GOOD.replace("warning: 50", "warning: lots"), 22, "warning: Input should be a valid number"),
        (
            GOOD.replace("levels: [ERROR]", "levels: [ERROR]\n        colour: red"),
            14,
            "colour: Extra inputs are not permitted",
        ),
        (GOOD.replace("kind: pods", "kind: pod"), 17, "unknown probe kind `pod`. Did you mean `pods`"),
        (GOOD.replace("webhook .* failed", "(webhook)\\1"), 12, "RE2 refuses this pattern"),
        (GOOD.replace("WHERE state = 'active'", "; DROP TABLE users"), 21, "2 statements"),
        (
            GOOD.replace("SELECT count(*) FROM pg_stat_activity WHERE state = 'active'", "DELETE FROM users"),
            21,
            "not a SELECT (delete)",
        ),
        (GOOD.replace("SELECT count(*)", "SELECT pg_terminate_backend(pid), count(*)"), 21, "acts on the server"),
        (
            GOOD.replace("{{pods.deployment}}", "{{pods.deployment.__class__}}"),
            25,
            "only `{{probe_id.field}}` may be templated",
        ),
        (GOOD.replace("{{pods.deployment}}", "{{ config.slack_bot_token }}"), 25, "names no probe of this symptom"),
        (GOOD.replace("{{pods.deployment}}", "{{pods.ratio}}"), 25, "a pods probe gives no `ratio`"),
        (GOOD.replace("action: restart", "action: restrat"), 24, "unknown action `restrat`. Did you mean `restart`"),
        (
            GOOD.replace("when: [pods, errors]", "when: [pod]"),
            26,
            "`pod` is not a probe of this symptom. Did you mean `pods`",
        ),
        (
            GOOD.replace("services: [billing-service]", "services: [biling-service]"),
            7,
            "unknown service `biling-service`",
        ),
        (GOOD.replace("name: billing-webhooks", "name: deadlocks"), 4, "`deadlocks` is built in"),
        (GOOD.replace("- id: pods", "- id: errors"), 16, "probe id `errors` is used twice"),
        (GOOD.replace("warning: 1\n", "warning: 20\n"), 9, "critical (10) must be at or above warning (20)"),
        ("symptoms: &a [*a]\n", 1, "anchors and aliases are not allowed"),
        ("symptoms:\n  - name: x\n   bad indent\n", 3, "not valid YAML"),
        ("- just\n- a list\n", 1, "a runbook file is a mapping"),
    ],
)
def test_every_kind_of_mistake_is_named_with_its_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    write(tmp_path, "billing.yaml", text)
    got = lint_lines(tmp_path)
    assert any(g.startswith(f"{tmp_path / 'billing.yaml'}:{line}: ") and words in g for g in got), got


def test_files_that_cannot_be_read_are_refused_not_crashed(tmp_path: Path) -> None:
    (tmp_path / "loop.yaml").symlink_to(tmp_path / "loop.yaml")
    (tmp_path / "big.yaml").write_bytes(b"# " + b"x" * (10 * 1024 * 1024))
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "dangling.yml").symlink_to(tmp_path / "nowhere.yaml")
    got = "\n".join(lint_lines(tmp_path))
    assert "loop.yaml:0: a symlink loop" in got or "loop.yaml:0: cannot be read" in got
    assert "big.yaml:0: 10485762 bytes: a runbook file holds at most 1048576 bytes" in got
    assert "binary.yaml:0: not UTF-8" in got
    assert "dangling.yml:0: cannot be read" in got


def test_a_name_defined_twice_across_files_points_at_the_first(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD)
    write(
        tmp_path,
        "b.yaml",
        GOOD.split("symptoms:")[0].replace("billing-service, port: 3010", "other, port: 1")
        + "symptoms:"
        + GOOD.split("symptoms:")[1],
    )
    got = lint_lines(tmp_path)
    assert any("b.yaml:4: symptom `billing-webhooks` is already defined at" in g and "a.yaml:4" in g for g in got), got


def test_the_published_schema_is_the_models_schema() -> None:
    assert SCHEMA_PATH.read_text() == schema_json(), "regenerate: alp runbook schema > commands/runbook/schema.json"
    schema = json.loads(SCHEMA_PATH.read_text())
    assert schema["additionalProperties"] is False
    assert set(schema["$defs"]) >= {"PodsProbe", "LogsProbe", "SqlProbe", "KafkaLagProbe", "Remedy", "Symptom"}


def run_alp(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ALP_")}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_terminal_lint_and_list(tmp_path: Path) -> None:
    write(tmp_path, "billing.yaml", GOOD)
    ok = run_alp("runbook", "lint", str(tmp_path), env={})
    assert ok.returncode == 0, ok.stderr
    assert "1 symptom(s): no problems" in ok.stderr
    listed = run_alp("--json", "runbook", "list", env={"ALP_RUNBOOK_DIR": str(tmp_path)})
    rows = {r["name"]: r["source"] for r in json.loads(listed.stdout)["symptoms"]}
    assert rows["billing-webhooks"] == "billing.yaml:4"
    assert rows["deadlocks"] == "built in"
    write(tmp_path, "broken.yaml", "symptoms: [{name: x}]\n")
    bad = run_alp("runbook", "lint", str(tmp_path), env={})
    assert bad.returncode == 1
    assert f"{tmp_path / 'broken.yaml'}:1: symptoms.0.title: Field required" in bad.stdout
    # a check of the terminal still answers with the built-in targets, and says why the files were not loaded
    help_ = run_alp("help", env={"ALP_RUNBOOK_DIR": str(tmp_path)})
    assert "runbook files in" in help_.stderr and "broken.yaml:1" in help_.stderr


def test_the_bot_refuses_to_start_on_a_runbook_that_does_not_lint(tmp_path: Path) -> None:
    write(tmp_path, "broken.yaml", GOOD.replace("action: restart", "action: nuke"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALP_")}
    env.update(
        SLACK_BOT_TOKEN="xoxb-x",
        SLACK_SIGNING_SECRET="s",
        ALP_RUNBOOK_DIR=str(tmp_path),
        ALP_STATE_URL=f"sqlite:///{tmp_path}/s.db",
    )
    out = subprocess.run(
        [sys.executable, "-m", "bot.server"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 1
    assert f"{tmp_path / 'broken.yaml'}:24: unknown action `nuke`" in out.stderr


async def test_a_reload_swaps_the_whole_set_or_keeps_the_old_one(tmp_path: Path) -> None:
    config = ChecksConfig()
    before = catalogue.current().checks.names()
    write(tmp_path, "billing.yaml", GOOD)
    watcher = RunbookWatcher(config, tmp_path)
    try:
        assert await watcher.reload()
        assert "billing-webhooks" in catalogue.current().checks.names()
        assert "billing-service" in [s.name for s in config.platform.services]
        # an invalid change keeps the set in force and says why
        write(tmp_path, "billing.yaml", GOOD.replace("kind: sql", "kind: mysql"))
        assert not await watcher.reload()
        assert "billing-webhooks" in catalogue.current().checks.names()
        assert any(
            "billing.yaml:20: symptoms.0.probes.2.kind: unknown probe kind `mysql`" in p
            for p in watcher.status()["last_reload_refused"]
        )
        # a valid change replaces it: the old name goes, the new one comes, built-ins stay
        write(tmp_path, "billing.yaml", GOOD.replace("billing-webhooks", "billing-payouts"))
        assert await watcher.reload()
        assert (
            "billing-webhooks" not in catalogue.current().checks.names()
            and "billing-payouts" in catalogue.current().checks.names()
        )
        assert watcher.status()["symptoms"] == ["billing-payouts"]
        # extending a built-in adds its probes, and removing the file restores the built-in as it was
        original = catalogue.current().checks.get("deadlocks")
        write(
            tmp_path,
            "billing.yaml",
            "extend:\n  - target: deadlocks\n    probes:\n      - {id: waiting, kind: sql, query: 'SELECT 1', warning: 5}\n",
        )
        assert await watcher.reload()
        extended = catalogue.current().checks.get("deadlocks")
        assert extended is not original and extended is not None
        assert "waiting" in extended.probe_names(config)
        (tmp_path / "billing.yaml").unlink()
        assert await watcher.reload()
        assert catalogue.current().checks.get("deadlocks") is original
        assert catalogue.current().checks.names() == before
    finally:
        symptoms.apply(symptoms.LoadResult(), config)  # nothing from files: the registry as it was


def test_the_postmortem_proposes_a_runbook_entry_that_lints(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from escalation.model import Incident, IncidentStatus, Priority, TimelineEntry
    from escalation.postmortem import postmortem_markdown

    t0 = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    inc = Incident(
        id=7,
        priority=Priority.P1,
        summary="Payment webhooks failing",
        impact="",
        services=["user-service"],
        status=IncidentStatus.RESOLVED,
        channel="C1",
        opened_by="U1",
        opened_at=t0,
        ladder=[],
    )
    blocked = "CRITICAL: 2 backend(s) blocked\nsymptoms:\n- name: injected"  # foreign text with line breaks
    entries = [
        TimelineEntry(
            t0 + timedelta(minutes=1),
            "U1",
            "check",
            "check deadlocks: CRITICAL",
            {"target": "deadlocks", "severity": "critical", "findings": [blocked]},
        ),
        TimelineEntry(
            t0 + timedelta(minutes=2),
            "U1",
            "action",
            "terminate-queries: done",
            {"action": "restart", "ok": True, "params": {"deployment": "user-service"}},
        ),
        TimelineEntry(
            t0 + timedelta(minutes=3),
            "U1",
            "check",
            "check deadlocks: OK",
            {"target": "deadlocks", "severity": "ok", "findings": []},
        ),
    ]
    text = postmortem_markdown(inc, entries)
    proposal = text.split("## Proposed runbook entry\n\n```yaml\n")[1].split("```")[0]
    write(tmp_path, "lesson.yaml", proposal)
    assert lint_lines(tmp_path) == []
    loaded, _ = load(tmp_path, ChecksConfig())
    [symptom] = loaded.files[0].content.symptoms
    assert symptom.name.startswith("inc-7-payment-webhooks") and symptom.section == "Lessons learned: INC-7"
    assert [(p.kind, p.target) for p in symptom.probes] == [("check", "deadlocks")]  # type: ignore[union-attr]
    assert [(r.action, dict(r.params), r.when) for r in symptom.remedies] == [
        ("restart", {"deployment": "user-service"}, ["deadlocks"])
    ]
    assert "#   2026-12-07 03:01:00Z deadlocks: CRITICAL: CRITICAL: 2 backend(s) blocked symptoms:" in proposal


def test_the_deployed_configmap_and_the_readme_example_lint(tmp_path: Path) -> None:
    import yaml

    cm = yaml.safe_load((ROOT / "deploy/runbook-configmap.yaml").read_text())
    for name, text in cm["data"].items():
        write(tmp_path, name, text)
    readme = (ROOT / "README.md").read_text()
    write(tmp_path, "billing.yaml", readme.split("payment webhooks (`billing.yaml`):\n\n```yaml\n")[1].split("```")[0])
    assert lint_lines(tmp_path) == []


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("symptoms:\n  - <<: {name: x}\n", "a merge key (<<)"),
        (GOOD.replace("title: Payment webhooks failing", "title: !secret foo"), "the tag !secret"),
        (
            GOOD.replace("title: Payment webhooks failing", "title: !!python/name:os.system ''"),
            "the tag tag:yaml.org,2002:python/name:os.system",
        ),
        ("symptoms:\n  - !!python/object:os.Foo {name: x}\n", "the tag tag:yaml.org,2002:python/object:os.Foo"),
        ("x: " + "[" * 500 + "]" * 500 + "\n", "nested deeper than 30 levels"),
        ("", "empty: a runbook file holds"),
        (GOOD.replace("SELECT count(*)", 'SELECT "pg_terminate_backend"(1), count(*)'), "acts on the server"),
        (GOOD.replace("SELECT count(*)", 'SELECT U&"pg_terminate_backend"(1), count(*)'), "Unicode-escaped name"),
        (GOOD.replace("SELECT count(*)", "SELECT pg_stat_statements_reset(), count(*)"), "acts on the server"),
        (
            GOOD.replace("SELECT count(*) FROM pg_stat_activity WHERE state = 'active'", "EXPLAIN SELECT 1"),
            "not a SELECT",
        ),
        (GOOD.replace("name: billing-webhooks", "name: help"), "one of alp's words"),
        (
            "extend:\n  - target: db-load\n    probes:\n      - {id: q, kind: check, target: db-load}\n",
            "a `check` probe cannot extend a built-in target",
        ),
    ],
)
def test_yaml_tricks_and_dangerous_sql_are_refused_not_crashed(tmp_path: Path, text: str, words: str) -> None:
    write(tmp_path, "x.yaml", text)
    got = lint_lines(tmp_path)
    assert any(words in g for g in got), got


def test_a_date_is_text_and_evidence_fills_parameters_only_as_a_plain_word(tmp_path: Path) -> None:
    from commands.report import Finding, Severity
    from commands.runbook.judge import Observed, fill
    from commands.runbook.model import Remedy

    write(tmp_path, "x.yaml", GOOD.replace("title: Payment webhooks failing", "title: 2024-01-01"))
    assert lint_lines(tmp_path) == []
    bad = Observed(
        [Finding(severity=Severity.CRITICAL, title="t")], {"key": "search:x namespace=kube-system", "n": 5.0}
    )
    remedy = Remedy(action="restart", params={"deployment": "{{k.key}}"}, when=["k"])
    assert fill(remedy, {"k": bad}) == ({}, "k.key is not a plain word ('search:x namespace=kube-system')")
    scale = Remedy(action="scale", params={"deployment": "x", "replicas": "{{k.n}}"}, when=["k"])
    assert fill(scale, {"k": bad}) == ({"deployment": "x", "replicas": 5}, None)
    assert run_alp("runbook", "frobnicate", env={}).returncode == 64


def test_the_terminal_check_of_a_self_contained_target_honours_a_file_extending_it(tmp_path: Path) -> None:
    """`alp check kafka-lag` loads that one check alone (bot/cli.py `_fast_check`); with runbook files
    the targets in force are the catalogue's, and a file's extension of it runs too."""
    write(
        tmp_path,
        "lag.yaml",
        "extend:\n  - target: kafka-lag\n    probes:\n      - {id: from_the_runbook, kind: sql, query: 'SELECT 1', warning: 5}\n",
    )
    unreachable = {"ALP_KAFKA_BOOTSTRAP": "127.0.0.1:1", "ALP_POSTGRES_DSN": "postgresql://alp@127.0.0.1:1/alp"}
    out = run_alp("--json", "check", "kafka-lag", env={"ALP_RUNBOOK_DIR": str(tmp_path), **unreachable})
    probes = {f["probe"] for f in json.loads(out.stdout)["findings"]}
    assert "from_the_runbook" in probes, out.stdout[-2000:]
