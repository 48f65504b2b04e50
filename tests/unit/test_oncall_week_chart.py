"""`oncall week` as a picture: a bar per final shift at its real instants (a DST day 23 h long,
no hole), each person one colour, a gap red; drawn from `week_data` as the words are."""

from __future__ import annotations

from datetime import UTC, date, datetime

from matplotlib.dates import num2date

from bot.render.week_chart import GAP_COLOUR, week_figure, week_png
from escalation.oncall.config import Layer, OncallSettings, Schedule
from escalation.oncall.directory import Directory
from escalation.oncall.view import week_data


async def test_the_week_picture_has_a_bar_per_shift_at_its_real_instants():
    day = Layer(users=["U0ANNA", "U0BORIS"], turn="1d", handoff="09:00", start=date(2027, 1, 4), hours="09:00-21:00")
    schedules = [
        Schedule(name="devops", time_zone="Europe/Berlin", layers=[day]),
        Schedule(
            name="platform",
            time_zone="America/New_York",
            layers=[Layer(users=["U0PLAT1"], turn="1w", start=date(2027, 1, 4))],
        ),
    ]
    at = datetime(2027, 3, 25, 12, tzinfo=UTC)  # Berlin springs forward on Sunday 28 March
    data = await week_data(Directory(OncallSettings(schedules=schedules)), at)
    fig = week_figure(data, "Europe/Berlin")
    [ax] = fig.axes
    bars = ax.collections
    shifts = [sh for s in data["schedules"] for sh in s["shifts"]]
    assert len(bars) == len(shifts)
    for bar, sh in zip(bars, shifts, strict=True):
        (x0, _), (x1, _) = bar.get_paths()[0].get_extents().get_points()
        assert num2date(x0).astimezone(UTC) == datetime.fromisoformat(sh["start"])
        assert abs((num2date(x1) - datetime.fromisoformat(sh["end"])).total_seconds()) < 1
        is_gap = not sh["on_call"]
        assert (tuple(bar.get_facecolor()[0]) == _rgba(GAP_COLOUR)) is is_gap
    people = {tuple(b.get_facecolor()[0]) for b, sh in zip(bars, shifts, strict=True) if sh["on_call"]}
    assert len(people) == 3  # Anna, Boris, the platform's one
    assert [t.get_text() for t in ax.get_yticklabels()] == ["platform", "devops"]
    assert week_png(data, "Europe/Berlin")[:8] == b"\x89PNG\r\n\x1a\n"
    assert week_png({"schedules": []}) is None


def _rgba(name: str) -> tuple[float, ...]:
    from matplotlib.colors import to_rgba

    return tuple(to_rgba(name))


def test_alp_oncall_week_png_writes_the_picture(tmp_path):
    from tests.support.oncall import SCHEDULES, alp, oncall_env

    env = {**oncall_env(f"sqlite:///{tmp_path}/absent.db", SCHEDULES), "TZ": "Europe/Berlin"}
    out = alp(env, "oncall", "week", "--png", str(tmp_path / "week.png"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "week.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"chart: {tmp_path / 'week.png'}" in out.stderr and "platform (Europe/Berlin), the week from" in out.stdout
    wrong = alp(env, "oncall", "--png", str(tmp_path / "now.png"))
    assert wrong.returncode == 64 and "oncall week --png" in wrong.stderr and not (tmp_path / "now.png").exists()
