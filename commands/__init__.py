"""Checks and actions over the platform's backends; returns data, never talks to Slack."""
