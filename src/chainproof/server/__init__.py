"""The chainproof server: the custody log over HTTP."""
