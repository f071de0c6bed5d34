"""Helpers the library's parts share; not part of chainproof's API."""
