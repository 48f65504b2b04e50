"""The override flow's rules on a real state store: nobody is stored as an empty or unknown person
(the 8 h hole of a terminal swap), the audit says UTC only of UTC times, and an undo is refused only
for the future hours it would leave uncovered, never for gaps it did not fill or for the past."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from escalation.oncall.config import Layer, OncallSettings, Schedule
from escalation.oncall.directory import Directory
from escalation.oncall.override_flow import OverrideAsk, apply, preview, preview_text, undo
from escalation.oncall.overrides import OverrideStore
from escalation.state.audit import AuditLog
from escalation.state.db import Database

# weekdays 09:00-17:00 New York only: nights and weekends are gaps of the rotation itself
DAYTIME = Schedule(
    name="platform",
    time_zone="America/New_York",
    layers=[Layer(users=["U0PLAT1"], turn="1d", start=date(2026, 1, 1), hours="09:00-17:00")],
)
ALWAYS = Schedule(
    name="devops", time_zone="UTC", layers=[Layer(users=["U0DEV1", "U0DEV2"], turn="1d", start=date(2026, 1, 1))]
)
# its rotation starts today at 00:00 UTC: before that, nobody
FRESH = Schedule(
    name="fresh",
    time_zone="UTC",
    layers=[Layer(users=["U0NEW1"], turn="1d", handoff="00:00", start=datetime.now(UTC).date())],
)
SETTINGS = OncallSettings(schedules=[DAYTIME, ALWAYS, FRESH])


@pytest.fixture
async def flow(tmp_path):  # type: ignore[no-untyped-def]
    db = Database(f"sqlite:///{tmp_path}/s.db")
    store = OverrideStore(db)
    yield Directory(SETTINGS, store), store, AuditLog(db), db
    await db.close()


def soon(days: int = 3, hour: int = 0) -> datetime:
    t = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=days)
    return t.replace(hour=hour)


async def stored(db: Database) -> int:
    async with db.engine.connect() as conn:
        return int((await conn.execute(sa.text("SELECT count(*) FROM alp_oncall_overrides"))).scalar_one())


@pytest.mark.parametrize("user", ["", "  ", "bob", "UTC", "@devops-oncall"])
async def test_an_override_for_an_empty_or_unknown_person_is_refused_and_stores_nothing(flow, user):
    directory, store, audit, db = flow
    start = soon()
    done = await apply(
        directory,
        store,
        audit,
        OverrideAsk("devops", user, start, start + timedelta(hours=8), "U0DEV1"),
        "U0DEV1",
        admin=True,
    )
    assert isinstance(done, str) and "Slack user" in done
    assert await stored(db) == 0


async def test_the_audit_gives_utc_times_as_utc(flow):
    directory, store, audit, _ = flow
    start = soon(hour=14).astimezone(ZoneInfo("America/New_York"))  # 09:00 or 10:00 local
    ask = OverrideAsk("devops", "U0DEV2", start, start + timedelta(hours=2), "U0DEV1")
    done = await apply(directory, store, audit, ask, "U0DEV1", admin=True)
    assert not isinstance(done, str)
    record = (await audit.latest(1))[0]
    assert f"{start.astimezone(UTC):%Y-%m-%d %H:%M}-" in record["result"] and " UTC" in record["result"]
    assert f"{start:%Y-%m-%d %H:%M}-" not in record["result"]  # the local wall time is not labelled UTC


async def test_an_undo_is_not_refused_for_gaps_it_did_not_fill(flow):
    """A newer override leaves a hole over part of an older one; undoing the older one changes nothing there."""
    directory, store, audit, _ = flow
    start = soon(hour=23)  # evening New York: the rotation's gap
    older = await store.add("platform", "U0NIGHT", start, start + timedelta(hours=4), "U0LEAD")
    # a later override for the same hours, meant to be a hole (as the terminal's swap once stored)
    await store.add("platform", "", start, start + timedelta(hours=4), "U0LEAD")
    said = (await undo(directory, store, audit, older.id, "U0LEAD", admin=True)).text
    assert "undone" in said, said


async def test_an_override_that_filled_the_rotations_own_gap_can_be_undone(flow):
    """The tester's "undoing #3 would leave nobody on call": the night was a gap of the rotation
    before the override and is one again after the undo; the reply says the gap is back."""
    directory, store, audit, _ = flow
    start = soon(hour=23)  # 18:00 or 19:00 in New York: after the rotation's hours
    night = await store.add("platform", "U0NIGHT", start, start + timedelta(hours=4), "U0LEAD")
    undone = await undo(directory, store, audit, night.id, "U0LEAD", admin=True)
    assert undone.done and "no longer covers" in undone.text, undone.text
    assert "nobody is on call" in undone.text and f"{start:%Y-%m-%d %H:%M}" in undone.text, undone.text


async def test_an_undo_is_refused_for_the_hours_it_would_newly_leave_uncovered(flow):
    """Hours the rotation covers but an older stored hole empties, filled by this override: undoing it
    would leave nobody where the schedule itself has someone."""
    directory, store, audit, _ = flow
    start = soon(hour=10)
    await store.add("devops", "", start, start + timedelta(hours=4), "U0LEAD")  # a hole (as once stored)
    cover = await store.add("devops", "U0DEV2", start, start + timedelta(hours=4), "U0LEAD")
    said = (await undo(directory, store, audit, cover.id, "U0LEAD", admin=True)).text
    assert "would leave nobody on call" in said and f"{start:%Y-%m-%d %H:%M}" in said, said


async def test_an_undo_judges_only_the_hours_still_to_come(flow):
    """An override that began before its rotation did (a gap, now past) and runs on into the
    rotation's hours: the past gap is history, so undoing what is left is allowed."""
    directory, store, audit, _ = flow
    began = datetime.combine(datetime.now(UTC).date(), datetime.min.time(), UTC)  # FRESH's first turn
    over = await store.add(
        "fresh", "U0NIGHT", began - timedelta(hours=4), datetime.now(UTC) + timedelta(minutes=30), "U0LEAD"
    )
    said = (await undo(directory, store, audit, over.id, "U0LEAD", admin=True)).text
    assert "undone" in said, said


async def test_an_override_that_is_over_is_not_undone(flow):
    directory, store, audit, _ = flow
    now = datetime.now(UTC)
    past = await store.add("devops", "U0DEV2", now - timedelta(hours=5), now - timedelta(hours=1), "U0DEV1")
    said = (await undo(directory, store, audit, past.id, "U0DEV1", admin=True)).text
    assert "is over" in said and "history" in said


async def test_a_backdated_override_is_clipped_to_now_and_says_so(flow):
    """Hours already past are history: an override asked from three hours ago covers from now on."""
    directory, store, audit, _ = flow
    now = datetime.now(UTC)
    ask = OverrideAsk("devops", "U0DEV2", now - timedelta(hours=3), now + timedelta(hours=2), "U0DEV1")
    shown = await preview(directory, ask)
    words = preview_text(shown, {})
    assert "from now" in words and f"not the past {ask.start:%H:%M}" in words, words
    assert shown.hours <= 2.01  # the hours it really covers, not the past ones
    done = await apply(directory, store, audit, ask, "U0DEV1", admin=True)
    assert not isinstance(done, str), done
    assert done.start >= now and done.end == ask.end
    assert not await store.overlapping(now - timedelta(hours=3), now - timedelta(minutes=1), "devops")


async def test_an_override_whose_span_has_ended_is_refused(flow):
    directory, store, audit, db = flow
    now = datetime.now(UTC)
    ask = OverrideAsk("devops", "U0DEV2", now - timedelta(hours=5), now - timedelta(hours=1), "U0DEV1")
    done = await apply(directory, store, audit, ask, "U0DEV1", admin=True)
    assert isinstance(done, str) and "an override is for now or later" in done
    assert await stored(db) == 0


async def test_undoing_an_override_that_has_started_keeps_what_happened(flow):
    """README: an override that is over stays as it happened; undo removes only the hours to come."""
    directory, store, audit, _ = flow
    now = datetime.now(UTC)
    began = now - timedelta(hours=2)
    o = await store.add("devops", "U0DEV2", began, now + timedelta(hours=3), "U0DEV1")
    undone = await undo(directory, store, audit, o.id, "U0DEV1", admin=True)
    assert undone.done and "kept as it happened" in undone.text, undone.text
    kept = await store.overlapping(began, now - timedelta(minutes=1), "devops")
    assert [k.id for k in kept] == [o.id + 1] and f"as override #{o.id + 1}" in undone.text, (kept, undone.text)
    past, _ = await directory.shifts("devops", began, now - timedelta(minutes=1))
    assert [sh.users for sh in past] == [("U0DEV2",)], past  # the past two hours: still the override's
    later, _ = await directory.shifts("devops", datetime.now(UTC) + timedelta(minutes=1), now + timedelta(hours=3))
    assert all("U0DEV2" not in sh.users or not sh.source.startswith("override") for sh in later), later
    again = await undo(directory, store, audit, o.id, "U0DEV1", admin=True)
    assert not again.done and "already undone" in again.text


async def test_overlapping_overrides_say_which_one_wins_in_the_preview_and_the_week(flow):
    """Two overrides over the same hours: the newer one wins there, and the preview of the second
    and the week both say so (they showed the winner only, as if the first had vanished)."""
    from escalation.oncall.view import week_data, week_words

    directory, store, audit, _db = flow
    start = soon(days=2, hour=0)
    first = await apply(
        directory,
        store,
        audit,
        OverrideAsk("devops", "U0COVER1", start, start + timedelta(hours=6), "U0DEV1"),
        "U0DEV1",
        admin=True,
    )
    assert not isinstance(first, str)
    ask = OverrideAsk("devops", "U0COVER2", start + timedelta(hours=4), start + timedelta(hours=10), "U0DEV1")
    shown = await preview(directory, ask)
    text = preview_text(shown, {})
    assert f"overlaps override #{first.id}" in text and "this one wins" in text, text
    assert f"{(start + timedelta(hours=4)):%H:%M}-{(start + timedelta(hours=6)):%H:%M}" in text, text
    second = await apply(directory, store, audit, ask, "U0DEV1", admin=True)
    assert not isinstance(second, str)
    week = await week_data(directory, start - timedelta(hours=1), "devops")
    said = week["schedules"][0]["overlaps"]
    assert said == [
        {
            "winner": second.id,
            "winner_user": "U0COVER2",
            "loser": first.id,
            "loser_user": "U0COVER1",
            "start": (start + timedelta(hours=4)).isoformat(),
            "end": (start + timedelta(hours=6)).isoformat(),
        }
    ], said
    words = week_words(week, None)
    assert f"#{second.id} wins" in words and f"#{first.id}" in words, words


@pytest.mark.parametrize("ago_s", [0, 20, 59])
async def test_undoing_an_override_that_just_started_keeps_no_seconds_long_part(flow, ago_s):
    """The tester's "covered devops 01:44-01:44 (kept as it happened)": a new row of a few seconds,
    then a handoff DM for it. A past part shorter than a minute is dropped: a plain undo."""
    directory, store, audit, db = flow
    now = datetime.now(UTC)
    o = await store.add("devops", "U0DEV2", now - timedelta(seconds=ago_s), now + timedelta(hours=3), "U0DEV1")
    undone = await undo(directory, store, audit, o.id, "U0DEV1", admin=True)
    assert undone.done and "kept" not in undone.text and "no longer covers" in undone.text, undone.text
    assert await stored(db) == 1 and not await store.overlapping(now - timedelta(minutes=5), now, "devops")
