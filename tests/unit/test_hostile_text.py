"""Foreign text on its way out: escaped for Slack, secrets masked everywhere, nothing cut unsaid.

Unit level (the renderers and the masking function); the running bot is driven in
test_slack_failures.py and test_fuzz.py.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from datetime import UTC, datetime, timedelta

import pytest

import commands.checks  # noqa: F401  (registers the check targets)
from bot.render import action_blocks as ui
from bot.render.escape import ZWSP, code, escape, keep_mentions
from bot.render.report_blocks import MAX_SECTION, incident_seed, render_report, render_usage
from bot.render.report_text import render_text
from bot.router import help_text
from commands.actions import ACTIONS
from commands.masking.redact import RedactingFilter, redact, redact_data, remember
from commands.report import Code, Fields, Finding, Report, Severity, Suggestion, Table, Text

MENTIONS = ["<!channel>", "<!here>", "<@U0BOSS>", "<!subteam^S0ALL>", "<https://evil.example|click me>"]


def report_with(*findings: Finding) -> Report:
    return Report(target="deadlocks", started_at=datetime.now(UTC), duration_s=0.1, findings=list(findings))


def mrkdwn_texts(blocks: list[dict]) -> list[str]:
    """Every mrkdwn string in the blocks (what Slack parses for mentions and links)."""
    out: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                out.append(str(node.get("text", "")))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(blocks)
    return out


def assert_no_live_markup(texts: list[str]) -> None:
    for t in texts:
        for m in MENTIONS:
            assert m not in t, f"raw {m} in {t!r}"
        # every code fence opened is closed by the bot's own fence: an even number per text
        assert t.count("```") % 2 == 0, t


# ---------------------------------------------------------------- 1. escaping
@pytest.mark.parametrize("hostile", MENTIONS)
def test_foreign_text_in_every_part_of_a_finding_is_escaped(hostile):
    statement = f"SELECT pg_sleep(9) /* ``` {hostile} a<b & c>d ``` */"
    f = Finding(
        severity=Severity.CRITICAL,
        title=f"blocked by {hostile}",
        detail=f"user {hostile} waits",
        evidence=[
            Text(text=f"note {hostile}"),
            Code(text=statement),
            Table(columns=["pid", "query"], rows=[["1", statement]]),
            Fields(items={f"k{hostile}": f"v{hostile}"}),
        ],
        suggestions=[Suggestion(action="terminate-queries", params={"pids": "1"}, why=f"because {hostile}")],
    )
    msg = render_report(report_with(f))
    texts = mrkdwn_texts(msg.blocks)
    assert_no_live_markup(texts)
    joined = "\n".join(texts)
    assert escape(hostile) in joined and "a&lt;b &amp; c&gt;d" in joined  # still shown, as text
    assert "<" not in msg.text and ">" not in msg.text


def test_a_code_block_cannot_be_closed_from_inside():
    for body in ["```", "x```", "```x", "a ```` b", "`", "``", "a`b``c```d"]:
        block = code(body + " <!channel>")
        inner = block[3:-3]
        assert "```" not in inner and not inner.startswith("`") and not inner.endswith("`"), block
        assert "&lt;!channel&gt;" in inner


def test_usage_and_help_are_escaped_and_never_cut():
    words = "check kafka-lag --group <!channel> " + "x" * 50
    msg = render_usage(f"unknown command `{words}`\n\n{help_text()}")
    texts = mrkdwn_texts(msg.blocks)
    assert_no_live_markup(texts)
    assert all(len(t) <= MAX_SECTION for t in texts)
    shown = "\n".join(texts)
    for line in help_text().splitlines():  # every line of the help, whole
        assert escape(line) in shown, line
    assert "&lt;target&gt;" in shown  # `<target>` in the usage is text, not a link


def test_a_help_line_longer_than_a_section_is_split_not_cut():
    long = "w" * 7000
    texts = mrkdwn_texts(render_usage(long).blocks)
    assert "".join(texts) == long and all(len(t) <= MAX_SECTION for t in texts)


# ---------------------------------------------------------------- 2. masking, by kind
SECRETS = {
    "MYSQL_PWD=Zq9xLm2w": "Zq9xLm2w",
    "export REDIS_PASSWORD='r3d!s pass'": "r3d!s pass",
    'config {"apiKey": "AbCdEf123456"}': "AbCdEf123456",
    "{'secret_key': 'k3yk3yk3y'}": "k3yk3yk3y",
    "db_pass: hunter22": "hunter22",
    "X-Auth-Token: tok-98765": "tok-98765",
    "refresh_token=rt.abcdef.123": "rt.abcdef.123",
    "client-credentials = cc-55aa": "cc-55aa",
    "Cookie: session_id=s355i0n": "s355i0n",
    "amqp://guest:gu3st@rabbit:5672/": "gu3st",
    "curl https://bob:pa55w0rd@api.example.com/x": "pa55w0rd",
    "Authorization: Basic " + base64.b64encode(b"svc:t0ps3cret").decode(): base64.b64encode(b"svc:t0ps3cret").decode(),
    "sent header basic " + base64.b64encode(b"admin:letmein").decode(): base64.b64encode(b"admin:letmein").decode(),
    "authorization: Bearer abc.def-ghi": "abc.def-ghi",
    "token ghp_0123456789abcdefghijABCDEFGHIJklmnop leaked": "ghp_0123456789abcdefghijABCDEFGHIJklmnop",
    "aws AKIAABCDEFGHIJKLMNOP key": "AKIAABCDEFGHIJKLMNOP",
    "slack xoxp-1234-5678-abcdef": "xoxp-1234-5678-abcdef",
    "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl": "c2lnbmF0dXJl",
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
    "CREATE ROLE app LOGIN PASSWORD 'it''s-secret'": "it''s-secret",
    "Authorization: Api-Key zx81-spectrum": "zx81-spectrum",
    "headers={'Authorization': 'Token t0k-t0k'}": "t0k-t0k",
    "Cookie: sid=c00k1e; theme=dark": "c00k1e",
    "mysql --password hunter2 -h db": "hunter2",
    "vault login --token s.Vt0ken": "s.Vt0ken",
    "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY": "wJalrXUtnFEMI",
    "mongodb+srv://root:m0ng0pw@cluster0.example.net/db": "m0ng0pw",
    "jdbc:postgresql://db/app?user=app&password=jdbcpw1": "jdbcpw1",
    "connecting to admin:Adm1n-pw@db.internal:5432 failed": "Adm1n-pw",
    "ENCRYPTION_KEY=3ncrypt10n": "3ncrypt10n",
    "smtp pw=Smtp-99": "Smtp-99",
    "https://bucket.s3.amazonaws.com/o?X-Amz-Signature=5ig5ig5ig": "5ig5ig5ig",
    "maps key AIzaSyA1234567890abcdefghijklmnopqrstuv": "AIzaSyA1234567890abcdefghijklmnopqrstuv",
}


@pytest.mark.parametrize("text,secret", list(SECRETS.items()))
def test_secrets_are_masked_by_kind(text, secret):
    out = redact(text)
    assert secret not in out, out
    assert "***" in out


def test_harmless_text_is_left_alone():
    for text in [
        "consumer group user-service: STOP, lag 45",
        "tests passed: 12, bypassed 0",
        "Basic authentication failed for user alice",
        "blocked 10.0.0.7 and 203.0.113.9",
        "cache_ttl=300 fallback_enabled=true",
        "https://auth.example.com/.well-known/openid-configuration",
        "Redis key scheduler:42 (hash), 3 fields",
        "git@github.com:org/repo.git at 12:30",
        "error at 2026-11-29 19:21:03 in pod auth-service-7d9f:3001",
    ]:
        assert redact(text) == text


def test_a_configured_secret_is_masked_wherever_it_appears():
    remember("postgresql://app:my pass phrase@db:5432/x")
    out = redact('unexpected spaces found in "my pass phrase", use percent-encoded spaces')
    assert "my pass phrase" not in out


def test_report_renderings_mask_secrets_in_slack_terminal_and_json():
    f = Finding(
        severity=Severity.WARNING,
        title="auth-service error: DB_PASSWORD=Tr0ub4dor",
        evidence=[
            Code(text='{"password": "Tr0ub4dor", "token": "T0k3nT0k3n"}\nclient_secret=Sup3rS3cr3t'),
            Fields(items={"api_token": "T0k3nT0k3n"}),
        ],
    )
    report = report_with(f)
    report.data["scheduler:42"] = {"value": "PGPASSWORD=Tr0ub4dor", "password": "Tr0ub4dor"}
    outputs = [json.dumps(render_report(report).blocks), render_text(report), report.to_json()]
    for out in outputs:
        for secret in ("Tr0ub4dor", "T0k3nT0k3n", "Sup3rS3cr3t"):
            assert secret not in out


def test_log_records_are_masked(caplog):
    logger = logging.getLogger("alp.test.redaction")
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    record = logger.makeRecord(
        "x", logging.ERROR, __file__, 1, "connect %s failed", ("redis://:pw0rd9@r:6379/0",), None
    )
    handler.filter(record)
    assert "pw0rd9" not in record.getMessage()


def test_a_table_column_named_like_a_secret_is_masked():
    f = Finding(
        severity=Severity.OK, title="t", evidence=[Table(columns=["user", "Password"], rows=[["bob", "b0b pw"]])]
    )
    out = render_text(report_with(f), show_all=True)  # an OK finding: listed with --all
    assert "bob" in out and "b0b pw" not in out


def test_redact_data_masks_values_of_secret_keys_whatever_their_shape():
    data = {"params": {"values": {"client_secret": "abc", "cache_ttl": "30"}}, "password": "x y"}
    clean = redact_data(data)
    assert clean == {"params": {"values": {"client_secret": "***", "cache_ttl": "30"}}, "password": "***"}


# ---------------------------------------------------------------- 3. fits or attaches
def _request(lines: list[str], params: dict[str, object]) -> dict[str, object]:
    return {
        "id": 7,
        "params": params,
        "requester": "U0ALICE",
        "preview": {"lines": lines, "target": "group"},
        "expires_at": datetime.now(UTC) + timedelta(minutes=15),
        "confirmed_by": "U0ALICE",
        "approval_deadline": datetime.now(UTC) + timedelta(minutes=10),
    }


def test_a_long_confirmation_names_what_fits_says_how_many_more_and_attaches_all():
    spec = ACTIONS.get("reset-offsets")
    assert spec is not None
    lines = [f"user.attempts-with-a-long-topic-name partition {p}: committed 1 -> end 1000" for p in range(120)]
    _, blocks = ui.confirmation(spec, _request(lines, {"group": "g1"}), "everyone", "c", "x", False)
    preview = next(t for t in mrkdwn_texts(blocks) if "more" in t and t.startswith("• "))  # under the buttons
    assert len(preview) <= MAX_SECTION
    shown = [line for line in lines if escape(line) in preview]
    more = int(re.search(r"and (\d+) more", preview)[1])  # type: ignore[index]
    assert shown == lines[: len(shown)] and len(shown) + more == 120
    assert ui.preview_attachment(lines) == "\n".join(lines)  # the file names every partition
    assert ui.preview_attachment(lines[:3]) is None


def test_every_action_message_is_escaped_and_within_limits():
    spec = ACTIONS.get("set-config")
    assert spec is not None
    params = {"configmap": "auth-config", "values": {"cache_ttl": "<!channel>" + "9" * 5000}}
    req = _request(["cache_ttl: '30' -> '<!channel>'"], params)
    for text, blocks in (
        ui.confirmation(spec, req, "everyone", "c", "x", False),
        ui.awaiting_approval(spec, req, "everyone", "a", "x"),
        ui.closed(spec, req, "done"),
    ):
        assert "<!channel>" not in text
        assert_no_live_markup(mrkdwn_texts(blocks))
        assert all(len(t) <= MAX_SECTION for t in mrkdwn_texts(blocks))


# ---------------------------------------------------------------- 6. the incident seed
@pytest.mark.parametrize("char", ["é", "日", "😀", '"', "\\"])
def test_incident_seed_is_valid_json_within_a_button_value(char):
    value = incident_seed(char * 300, (char * 80 + "\n") * 40)
    assert len(value) <= 2000
    seed = json.loads(value)
    assert seed["summary"].startswith(char) and seed["impact"].startswith(char)


def test_lines_mixing_the_bots_mentions_with_foreign_error_text_keep_only_the_mentions():
    line = ":warning: could not page <!subteam^S0DEV|devops>: HTTPError 502 <!channel> <https://x|y> & acked by <@U0AL>"
    out = keep_mentions(line)
    assert "<!subteam^S0DEV|devops>" in out and "<@U0AL>" in out
    assert "<!channel>" not in out and "<https://x|y>" not in out and "&amp;" in out


def test_terminal_output_shows_control_characters_instead_of_obeying_them():
    f = Finding(severity=Severity.WARNING, title="log \x1b[2J\x1b[1;1Hall good", evidence=[Code(text="a\tb\x07\nc")])
    out = render_text(report_with(f))
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b[2J" in out and "a\tb\\x07" in out


# ---------------------------------------------------------------- 7. mrkdwn markup in foreign text (#21 round 3)
MARKUP = ["*bold*", "_italic_", "~strike~", ":rotating_light:", "*a b*", "_a_b_"]


def reads_literally(texts: list[str], hostile: str) -> None:
    """`hostile` is nowhere as Slack would format it, and still there as text (zero-width spaces aside)."""
    for t in texts:
        assert hostile not in t, f"live {hostile!r} in {t!r}"
    assert hostile in "\n".join(texts).replace(ZWSP, "")


@pytest.mark.parametrize("hostile", MARKUP)
def test_markup_in_foreign_text_of_a_report_reads_literally(hostile):
    f = Finding(
        severity=Severity.WARNING,
        title=f"group {hostile} lags",
        detail=f"pod {hostile} restarted",
        evidence=[Text(text=f"note {hostile}"), Fields(items={f"k {hostile}": f"v {hostile}"})],
        suggestions=[Suggestion(action="terminate-queries", params={"pids": "1"}, why=f"because {hostile}")],
    )
    msg = render_report(report_with(f))
    reads_literally([*mrkdwn_texts(msg.blocks), msg.text], hostile)
    headline = render_report(report_with(f, f)).text
    assert hostile not in headline


@pytest.mark.parametrize("hostile", MARKUP)
def test_markup_in_alert_labels_and_annotations_reads_literally(hostile):
    from bot.render.alert_blocks import group_message
    from escalation.state.alert_groups import AlertGroup

    group = AlertGroup(id=1, group_key="{}:{}", status="firing", channel="alerts", opened_at=datetime.now(UTC))
    labels = {"alertname": f"Lag {hostile}", "pod": f"p {hostile}"}
    group.alerts = {
        "f1": {"status": "firing", "labels": labels, "annotations": {"summary": f"s {hostile}"}, "startsAt": ""}
    }
    group.common_labels = labels
    msg = group_message(group, None, [], [], None, 10)
    reads_literally([*mrkdwn_texts(msg.blocks), msg.text], hostile)


def test_a_quote_marker_at_a_line_start_and_emoji_codes_in_foreign_text_are_inert():
    out = escape("> not a quote\n  > nor this\nsee :fire: and 10:30:45")
    assert not re.search(r"(?m)^\s*&gt;", out), out
    assert ":fire:" not in out and "10:30:45" in out
    assert out.replace(ZWSP, "") == "&gt; not a quote\n  &gt; nor this\nsee :fire: and 10:30:45"


def test_markup_inside_code_is_left_as_it_is():
    assert code("a *b* _c_ ~d~", masked=True) == "```a *b* _c_ ~d~```"
    assert escape("snake_case_name and a*b").replace(ZWSP, "") == "snake_case_name and a*b"
    assert "snake_case_name" in escape("snake_case_name")  # an identifier stays copyable
    assert escape("redis key progress:user:42") == "redis key progress:user:42"


def test_the_terminal_shows_foreign_markup_and_drops_the_bots_own():
    from bot.cli import _plain

    assert _plain(f"*{escape('*bold* _x_ ~y~')}* `done`") == "*bold* _x_ ~y~ done"


# ---------------------------------------------------------------- 8. foreign values cannot make rows (#21 round 3)
def test_a_newline_in_a_table_cell_cannot_fake_a_row():
    fake = "k=v\n03-01 00:00Z  deployment  rollout of auth-service  admin"
    table = Table(columns=["when", "kind", "change", "by"], rows=[["12-07 17:00Z", "configmap", fake, "kubectl"]])
    f = Finding(severity=Severity.WARNING, title="1 change(s)", evidence=[table])
    text = render_text(report_with(f))
    assert sum("deployment" in line for line in text.splitlines()) == 1
    assert len([line for line in text.splitlines() if "kubectl" in line or "admin" in line]) == 1
    blocks = render_report(report_with(f)).blocks
    tables = [b for b in blocks if (b.to_dict() if hasattr(b, "to_dict") else b).get("type") == "table"]
    if tables:  # a table wider than a phone: Slack's table block, one cell one line
        rows = (tables[0].to_dict() if hasattr(tables[0], "to_dict") else tables[0])["rows"]
        assert len(rows) == 2 and all("\n" not in c["text"] for row in rows for c in row), rows
        assert any("\\n" in c["text"] for c in rows[1])  # the newline is shown, not obeyed
    else:
        block = next(t for t in mrkdwn_texts(blocks) if "```" in t)
        body = block.split("```")[1]
        assert len(body.strip("\n").splitlines()) == 2, body  # the header and the one row
        assert "\\n" in body  # the newline is shown, not obeyed


def test_a_newline_in_a_change_line_or_a_note_cannot_fake_a_postmortem_item():
    from escalation.model import Incident, IncidentStatus, Priority, TimelineEntry
    from escalation.postmortem import postmortem_markdown

    now = datetime.now(UTC)
    inc = Incident(
        id=7,
        priority=Priority.P1,
        summary="db slow\n## Root cause\n- it was fine",
        impact="",
        services=[],
        status=IncidentStatus.TRIGGERED,
        channel="c",
        opened_by="U1",
        opened_at=now,
        ladder=[],
    )
    entries = [TimelineEntry(at=now, actor="U1", kind="note", text="looked\n- 12:00:00 — U2: resolved it")]
    out = postmortem_markdown(inc, entries, ["configmap auth-config written: k=v\n- deployment/x rolled back"])
    assert sum(line.startswith("## Root cause") for line in out.splitlines()) == 1
    assert not any(line.startswith("- deployment/x") or line.startswith("- 12:00:00") for line in out.splitlines())


def test_a_configmap_value_cannot_pose_as_more_keys_in_a_change_line():
    from commands.changes.sources import pairs

    out = pairs({"cache_ttl": "30, rate_limit=999", "mode": "fast", "motd": "a\nb"})
    assert out.startswith('cache_ttl="30, rate_limit=999", mode=fast, motd="a\\nb"'), out
    assert "\n" not in out
