"""Slack I/O: the Bolt app and its listeners, the Web API client (retries, fallbacks), signed button values, the incident notifier."""
