"""chainproof: a verifiable chain of custody for AI training pipelines."""

__version__ = "0.1.0"
