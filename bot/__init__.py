"""The Slack side of alp: settings, the /alp router, renderers, the Bolt app and the CLI."""
