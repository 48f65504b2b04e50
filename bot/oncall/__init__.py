"""The Slack and terminal side of on-call schedules (escalation/oncall/ holds the computation)."""
