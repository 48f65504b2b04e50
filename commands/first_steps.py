"""The runbook's first steps, `changes` and `logs`: importing this registers both in
`commands.registry.STEPS` (verbs of their own, not check targets)."""

from commands import changes, logs

__all__ = ["changes", "logs"]
