"""A Notifier for the escalation engine in process: it records every call and can be told to fail."""

from __future__ import annotations

from escalation.ladder.pages import Page


class Recorder:
    """A Notifier that remembers every call and can be told to fail."""

    def __init__(self) -> None:
        self.pages: list[tuple[str, str, Page]] = []
        self.said: list[str] = []
        self.announced: list[str] = []
        self.checklists: list[str] = []
        self.specialist_channels: list[str] = []
        self.fail_pages = 0

    async def announce(self, inc):  # type: ignore[no-untyped-def]
        self.announced.append(inc.ref)
        return inc.channel, f"1000.{inc.id}"

    async def find_announcement(self, inc):  # type: ignore[no-untyped-def]
        return (inc.channel, f"1000.{inc.id}") if inc.ref in self.announced else None

    async def refresh(self, inc) -> None:  # type: ignore[no-untyped-def]
        return None

    async def page(self, inc, step, page) -> None:  # type: ignore[no-untyped-def]
        if self.fail_pages:
            self.fail_pages -= 1
            raise ConnectionError("slack is down")
        self.pages.append((inc.ref, step.name, page))

    async def already_paged(self, inc, step, page) -> bool:  # type: ignore[no-untyped-def]
        return (inc.ref, step.name) in [(r, s) for r, s, _ in self.pages]

    async def say(self, inc, text: str, quote: str = "") -> None:  # type: ignore[no-untyped-def]
        self.said.append(text + quote)

    async def already_said(self, inc, text: str) -> bool:  # type: ignore[no-untyped-def]
        return text in self.said

    async def specialists(self, inc, channels) -> None:  # type: ignore[no-untyped-def]
        self.specialist_channels += channels

    async def checklist(self, inc) -> None:  # type: ignore[no-untyped-def]
        self.checklists.append(inc.ref)

    def steps(self, ref: str) -> list[str]:
        return [s for r, s, _ in self.pages if r == ref]
