"""Settings, the /alp grammar, redaction and Slack rendering limits."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime

import pytest

import commands.checks  # noqa: F401
from bot.render.report_blocks import MAX_BLOCKS, render_report
from bot.render.report_text import render_text
from bot.router import CheckCommand, HelpCommand, parse
from bot.settings import ConfigError, Settings, load_settings, remember_secrets
from commands.masking.redact import redact
from commands.params import UsageError
from commands.report import Fields, Finding, Report, Severity, Table
from tests.support.processes import ROOT


def test_runbook_defaults(monkeypatch):
    for var in ("ALP_NAMESPACE", "ALP_CONFIG", "ALP_KAFKA_BOOTSTRAP"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings()
    assert s.namespace == "adaptive-learning-production"
    assert {(x.name, x.port) for x in s.platform.services} == {
        ("auth-service", 3001),
        ("user-service", 3002),
        ("scheduler-service", 3003),
        ("ml-service", 3005),
    }
    assert s.escalation.oncall.primary == "@devops-oncall"
    assert s.escalation.oncall.secondary == "@platform-oncall"
    assert s.escalation.p1_first_page_s == 1800 and s.escalation.p2_first_page_s == 7200
    assert s.escalation.specialists.database == "#database-support"
    assert s.http_port == 3000


def test_env_and_toml_sources(monkeypatch, tmp_path):
    toml = tmp_path / "alp.toml"
    toml.write_text('namespace = "staging"\n[kafka_lag]\nsamples = 7\nallowed_lag = 1\n')
    monkeypatch.setenv("ALP_CONFIG", str(toml))
    monkeypatch.setenv("ALP_KAFKA_LAG__ALLOWED_LAG", "2")  # env beats the file
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-abc")
    s = load_settings()
    assert s.namespace == "staging" and s.kafka_lag.samples == 7 and s.kafka_lag.allowed_lag == 2
    assert s.slack_bot_token is not None and s.slack_bot_token.get_secret_value() == "xoxb-abc"
    assert "xoxb-abc" not in repr(s)


def test_bad_value_names_the_field(monkeypatch):
    monkeypatch.setenv("ALP_KAFKA_LAG__SAMPLES", "1")
    monkeypatch.setenv("ALP_HTTP_PORT", "eighty")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "kafka_lag.samples" in str(err.value) and "http_port" in str(err.value)


def test_bot_refuses_to_start_on_bad_config():
    out = subprocess.run(
        [sys.executable, "-m", "bot.server"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "ALP_HTTP_PORT": "-1", "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"},
    )
    assert out.returncode == 2
    assert "http_port" in out.stderr and "Traceback" not in out.stderr


def test_parse_grammar():
    req = parse("check kafka-lag --group user-service --samples=4")
    assert isinstance(req, CheckCommand) and req.target == "kafka-lag"
    assert req.params.group == "user-service" and req.params.samples == 4  # type: ignore[attr-defined]
    assert isinstance(parse(""), HelpCommand)
    assert parse("help kafka-lag") == HelpCommand("kafka-lag")
    assert isinstance(parse("kafka-lag"), CheckCommand)  # shorthand


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("check kafak-lag", "Did you mean `kafka-lag`"),
        ("chck kafka-lag", "Did you mean `check`"),
        ("check kafka-lag --grop x", "unknown option --grop"),
        ("check kafka-lag --samples 0", "--samples"),
        ("check kafka-lag stray", "unexpected word `stray`"),
        ("check", "needs a target"),
        ('check "unclosed', "could not read"),
    ],
)
def test_usage_errors(text, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        parse(text)


def test_redaction_masks_secrets():
    text = (
        "dsn postgresql://postgres:hunter2@db:5432/x token xoxb-123-456-abc "
        "Authorization: Bearer eyJhbGciOi.abc password=s3cret"
    )
    out = redact(text)
    for secret in ("hunter2", "xoxb-123", "eyJhbGciOi", "s3cret"):
        assert secret not in out
    assert "postgresql://postgres:***@db:5432/x" in out


def _report(findings: list[Finding]) -> Report:
    return Report(target="kafka-lag", started_at=datetime.now(UTC), duration_s=0.5, findings=findings)


def test_renderers_never_show_secrets():
    f = Finding(
        severity=Severity.CRITICAL, title="cannot connect", detail="postgresql://alp:topsecret@10.0.0.1/db refused"
    )
    r = _report([f])
    assert "topsecret" not in render_text(r)
    assert "topsecret" not in str(render_report(r).blocks)
    assert "topsecret" not in r.to_json()


def test_small_report_fits_one_message_worst_first():
    r = _report(
        [
            Finding(severity=Severity.OK, title="fine"),
            Finding(severity=Severity.CRITICAL, title="broken", evidence=[Fields(items={"lag": "9"})]),
        ]
    )
    msg = render_report(r)
    assert msg.attachment is None
    assert msg.blocks[0]["text"]["text"] == "kafka-lag: CRITICAL: broken"
    assert msg.text == "kafka-lag: CRITICAL: broken"
    assert ":red_circle: *broken*" in msg.blocks[1]["text"]["text"]


def test_big_report_becomes_summary_plus_file_with_everything():
    rows = [[f"topic-{i}", str(i), "0", "1", "1", "STOP"] for i in range(300)]
    findings = [
        Finding(
            severity=Severity.CRITICAL,
            title=f"group g{i}",
            evidence=[Table(columns=["topic", "partition", "committed", "end", "lag", "status"], rows=rows)],
        )
        for i in range(80)
    ]
    msg = render_report(_report(findings))
    assert len(msg.blocks) <= MAX_BLOCKS
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in msg.blocks)
    assert msg.attachment is not None
    assert all(f"group g{i}" in msg.attachment for i in range(80))
    assert "topic-299" in msg.attachment


def test_exit_codes_follow_worst_severity():
    assert _report([]).exit_code == 0
    assert _report([Finding(severity=Severity.WARNING, title="w")]).exit_code == 1
    assert _report([Finding(severity=Severity.UNKNOWN, title="u")]).exit_code == 3
    both = [Finding(severity=Severity.UNKNOWN, title="u"), Finding(severity=Severity.CRITICAL, title="c")]
    assert _report(both).exit_code == 2


async def test_identical_checks_running_at_once_share_one_run():
    from pydantic import BaseModel

    from commands.config import ChecksConfig
    from commands.registry import CheckContext, CheckResult, CheckSpec, NoParams
    from commands.runner import run_check

    calls = 0

    async def slow(ctx: CheckContext, params: BaseModel) -> CheckResult:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.2)
        return CheckResult([Finding(severity=Severity.OK, title=f"run {calls}")])

    spec = CheckSpec("slow", "a slow check", "-", NoParams, slow)
    ctx = CheckContext(ChecksConfig())
    reports = await asyncio.gather(*(run_check(spec, ctx, NoParams()) for _ in range(20)))
    assert calls == 1 and {r.findings[0].title for r in reports} == {"run 1"}
    await run_check(spec, ctx, NoParams())  # a later request runs afresh
    assert calls == 2


def test_a_typo_in_the_terminal_gets_the_answer_not_the_whole_help():
    """#29 item 11: `alp chekc` answered with every command's usage (5 k characters)."""
    import subprocess
    import sys
    from pathlib import Path

    alp = Path(sys.executable).parent / "alp"
    out = subprocess.run([str(alp), "chekc"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 64
    assert "Did you mean `check`" in out.stderr and "`alp help` lists every command" in out.stderr
    assert len(out.stderr) < 400, out.stderr


def test_every_configured_secret_is_masked_wherever_it_appears() -> None:
    """Each `SecretStr` of the settings, nested ones too (the Alertmanager webhook's token was not listed)."""
    from commands.alerts import AlertmanagerSettings
    from commands.masking.redact import redact

    token = "Zq8xWebhookTok3n-not-a-known-shape"
    settings = Settings(alertmanager=AlertmanagerSettings(webhook_token=token))
    remember_secrets(settings)
    assert token not in redact(f"POST /alertmanager?token={token} refused; echoed: {token}")
