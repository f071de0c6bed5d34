"""A custody log on a chainproof server, used as a local one: every answer checked on the client."""
