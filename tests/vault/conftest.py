"""The vault tests use the server tests' helpers (a store, a real `chainproof serve`)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
