"""Remediations. Importing this package registers every action in `commands.actions.registry.ACTIONS`."""

from commands.actions import data_actions, http_actions, kube_actions
from commands.actions.registry import ACTIONS

__all__ = ["ACTIONS", "data_actions", "http_actions", "kube_actions"]
