"""Alertmanager in: the webhook payload, one message per alert group with its diagnosis, silences."""
