"""Alert groups as Block Kit: the one message per group, and the checklist's "Clear any alerts".

Labels, annotations and URLs come from Prometheus rules and exporters: foreign text, escaped
here before it enters Slack markup; secrets are masked by the report renderer and `redact`.
"""

from __future__ import annotations

import shlex
from typing import Any

from bot.render.blocks import Block, actions, button, context, divider, header, section
from bot.render.escape import clean, code_text, escape
from bot.render.report_blocks import MAX_BLOCKS, MAX_HEADER, SlackMessage
from bot.render.verdict_blocks import SUPERSEDED_ID, is_remedy
from commands.masking.redact import redact, redact_pair
from escalation.state.alert_groups import AlertGroup

MAX_TEXT = 2900
MAX_GRAPH_LINES = 5  # alerts judged from their expression, listed in the message


def esc(text: str) -> str:
    """Foreign alert text for Slack: secrets masked, then escaped (the bot's one rule, `bot.render.escape.clean`)."""
    return clean(text)


def _link(url: str, label: str) -> str:
    """A link to a foreign URL, its credentials (`user:password@`, `token=`) masked first."""
    url = redact(url)
    if not url.startswith(("http://", "https://")) or any(c in url for c in "<>| \n"):
        return ""
    return f"<{url.replace('&', '&amp;')}|{label}>"


def _arg(value: Any) -> str:
    """An option value inside the `Check:` code span: shell-quoted, so a label value such as
    "x --samples 50" reads as the one value it was, and without backticks (they would end the span)."""
    return code_text(_short(shlex.quote(str(value)).replace("`", "\u02cb"), 200))


def _short(text: str, limit: int) -> str:
    """Foreign text cut to `limit` characters *before* escaping (never mid-entity), saying so."""
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more characters)"


def _short_header(title: str) -> str:
    """A header within Slack's 150 characters, saying it is cut (the alert name is in full in the text below)."""
    return title if len(title) <= MAX_HEADER else title[: MAX_HEADER - 1] + "…"


def _labels(labels: dict[str, str], skip: set[str], limit: int = MAX_TEXT) -> str:
    """`k=v, …` of the labels, the value masked as its key says (`redact_pair`: a `password` label's
    value whole), within `limit` characters, saying how many more labels there are."""
    pairs = [
        f"{esc(_short(k, 100))}={escape(_short(redact_pair(k, v), 200))}"
        for k, v in sorted(labels.items())
        if k not in skip
    ]
    shown: list[str] = []
    for i, pair in enumerate(pairs):
        if sum(len(p) + 2 for p in shown) + len(pair) > limit - 40:
            return ", ".join(shown) + f" … and {len(pairs) - i} more label(s)"
        shown.append(pair)
    return ", ".join(shown)


def _alert_line(alert: dict[str, Any], common: dict[str, str]) -> str:
    ann = alert.get("annotations", {})
    what = ann.get("summary") or ann.get("description") or ann.get("message") or alert["labels"].get("alertname", "")
    mark = ":fire:" if alert.get("status") == "firing" else ":white_check_mark:"
    own = _labels(alert["labels"], set(common) | {"alertname"}, 1000)
    source = _link(alert.get("generatorURL", ""), "source")
    return f"{mark} {esc(_short(what, 300))}" + (f" · {own}" if own else "") + (f" · {source}" if source else "")


def group_message(
    group: AlertGroup,
    report: SlackMessage | None,
    notes: list[str],
    silence_buttons: list[tuple[str, str]],
    incident: str | None,
    max_alerts: int,
    incident_status: list[Block] | None = None,
) -> SlackMessage:
    """The group's message: header, alerts, route, its incident's status and buttons, the check's
    report, silence buttons."""
    # Counts are of the latest notification (alerts that left the group are gone from it), plus
    # what its max_alerts left out: an alert listed before and left out now is counted once.
    latest = set(group.route.get("latest") or group.alerts)
    current = [a for fp, a in group.alerts.items() if fp in latest]
    firing = [a for a in current if a.get("status") == "firing"]
    left_out = int(group.route.get("truncated") or 0)
    name = group.common_labels.get("alertname") or next(
        (a["labels"].get("alertname", "") for a in group.alerts.values()), "alert"
    )
    if group.status == "firing":
        count = len(firing) + left_out
        title = f":fire: FIRING · {name} · {count} alert{'s' if count != 1 else ''}"
        if left_out:
            title += f" ({len(current)} listed)"
    else:
        title = f":white_check_mark: RESOLVED · {name}"
    shown = sorted(current, key=lambda a: (a.get("status") != "firing", a.get("startsAt", "")))
    lines: list[str] = []
    for a in shown[:max_alerts]:  # whole lines only, within the section's size
        line = _alert_line(a, group.common_labels)
        if sum(len(x) + 1 for x in lines) + len(line) > MAX_TEXT - 200:
            break
        lines.append(line)
    if len(shown) > len(lines):
        lines.append(f"… and {len(shown) - len(lines)} more alert(s) in this group")
    if group.route.get("truncated"):
        lines.append(
            f"… and {group.route['truncated']} more that Alertmanager left out of its notification (max_alerts)"
        )
    about = [f"Labels: {_labels(group.common_labels, {'alertname'}, MAX_TEXT - 400) or '-'}"]
    if len(redact(title)) > MAX_HEADER:  # the header is cut: the name in full here
        about.insert(0, f"Alert: {esc(_short(name, 1000))}")
    if group.route.get("check"):
        args = " ".join(f"--{k.replace('_', '-')} {_arg(v)}" for k, v in group.route.get("params", {}).items())
        about.append(f"Check: `{group.route['check']}{(' ' + args) if args else ''}`")
    else:
        about.append("No route matched: no check ran (add one to ALP_ALERTMANAGER__ROUTES)")
    if incident:
        about.append(f"Incident: {incident}")
    about.append(f"Notifications: {group.notifications}")
    # phone-first: what fires, what the check found, the incident's buttons; then the rest
    blocks = [header(_short_header(redact(title))), section("\n".join(lines)[:MAX_TEXT])]
    body = list(report.blocks) if report is not None else []
    if body and body[0].get("type") == "header":  # the check's headline, lifted above the details
        blocks.append(section(f":mag: *{body.pop(0)['text']['text']}*"))  # escaped by the report's renderer
    elif body and str(body[0].get("block_id", "")).startswith(SUPERSEDED_ID):
        blocks.append(body.pop(0))
    blocks += incident_status or []
    graph_lines = list(group.route.get("graph_lines") or [])
    if graph_lines:  # the alert's own expression, judged from Prometheus' samples (the chart is in the thread)
        shown_lines = [esc(_short(line, 400)) for line in graph_lines[:MAX_GRAPH_LINES]]
        if len(graph_lines) > MAX_GRAPH_LINES:
            shown_lines.append(f"… and {len(graph_lines) - MAX_GRAPH_LINES} more alert(s) judged (see the chart)")
        at = group.route.get("graph_at")
        head = f":chart_with_upwards_trend: *The alert's expression in Prometheus*{f' (at {esc(at)})' if at else ''}:\n"
        blocks.append(section(head + "\n".join(shown_lines)))
    blocks.append(context(" · ".join(about)[:MAX_TEXT]))
    for note in notes:
        blocks.append(context(f":information_source: {esc(note)}"))
    tail: list[Block] = []
    if silence_buttons and group.status == "firing":
        buttons = [button(label, f"alert_silence:{i}", token) for i, (label, token) in enumerate(silence_buttons)]
        tail.append(actions(buttons, f"alert_silence_{group.id}"))
    attachment = None
    if report is not None:
        room = MAX_BLOCKS - len(blocks) - len(tail) - 1
        if group.status != "firing":  # resolved: no remedy acts on the evidence of a problem gone
            kept = [b for b in body if not is_remedy(b)]
            if len(kept) < len(body):
                kept.append(
                    context(":no_entry_sign: Remedy buttons removed: the alert resolved after this report was read")
                )
            body = kept
        attachment = report.attachment
        if len(body) > room:
            body = [*body[:room], context("… the full report is attached")]
        blocks += [divider(), *body] if len(blocks) + len(body) + len(tail) < MAX_BLOCKS else body
    blocks += tail
    text = f"{title} ({group.route.get('check', 'no check')})"
    return SlackMessage(esc(text), blocks[:MAX_BLOCKS], attachment)


def clear_alerts_blocks(
    ref: str, firing: list[dict[str, Any]] | None, silences: list[dict[str, Any]], expire_token: str | None, why: str
) -> tuple[str, list[Block]]:
    """The checklist's "Clear any alerts": what still fires, and the incident's silences."""
    if firing is None:
        state = f"Could not ask Alertmanager what still fires: {esc(why)}"
    elif firing:
        state = f":fire: {len(firing)} alert(s) of this group still firing:\n" + "\n".join(
            f"• {esc(a['labels'].get('alertname', '?'))}: {_labels(a['labels'], {'alertname'})}"
            + (" (silenced)" if a.get("status", {}).get("state") == "suppressed" else "")
            for a in firing[:10]
        )
    else:
        state = ":white_check_mark: No alert of this group is firing."
    active = [s for s in silences if s.get("status", {}).get("state") == "active"]
    if active:
        state += f"\n:mute: {len(active)} active silence(s) made for {ref}: " + ", ".join(
            f"{esc(s['id'])} (by {esc(s.get('createdBy', '?'))}, until {esc(str(s.get('endsAt', '?'))[:16])}Z)"
            for s in active
        )
    blocks = [section(f"*Clear any alerts* ({ref})\n{state}"[:MAX_TEXT])]
    if active and expire_token:
        blocks.append(actions([button(f"Expire {len(active)} silence(s)", "alert_expire_silences", expire_token)]))
    return f"{ref}: clear any alerts", blocks
