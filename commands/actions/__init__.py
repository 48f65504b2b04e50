"""Remediations. Importing this package registers every action in `commands.actions.registry.ACTIONS`."""

from commands.actions import access_actions, data_actions, http_actions, kube_actions
from commands.actions.registry import ACTIONS

__all__ = ["ACTIONS", "access_actions", "data_actions", "http_actions", "kube_actions"]
