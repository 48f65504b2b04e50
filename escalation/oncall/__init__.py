"""On-call schedules: who is behind a ladder rung at a given moment.

`config` holds the schedules as configuration (`[[oncall.schedules]]`), `rotation` turns one layer
into shifts at local wall-clock handoffs, `shifts` combines the layers and the overrides into the
final shifts (pure, Slack-free, UTC in and out), `overrides` keeps overrides in the state store,
`view` answers `oncall` for Slack and the terminal, `paging` resolves a ladder rung to people.
"""
