"""Thin async wrappers over the real clients, each call bounded by a timeout."""
