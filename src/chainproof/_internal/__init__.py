"""Helpers shared across chainproof's parts; not part of the public API."""
