"""Remediations from people: Slack buttons and forms, who may, and `alp do` in the terminal, over commands/actions/flow.py."""
