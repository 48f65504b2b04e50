"""Data to words: reports, actions, alerts and incidents as Block Kit (Slack) and as text (terminal). No I/O."""
