"""Incidents and the P0/P1/P2 escalation ladder."""
