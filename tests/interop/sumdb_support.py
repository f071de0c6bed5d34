"""The Go checker's client: batches of tasks in, one result per task out (see sumdbcheck/main.go)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class Sumdb:
    """Runs batches of tasks through the compiled checker (see main.go for the task fields)."""

    def __init__(self, exe: Path) -> None:
        self.exe = exe

    def ask(self, tasks: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        request = json.dumps({"tasks": list(tasks)}).encode()
        done = subprocess.run([self.exe], input=request, capture_output=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        results: list[dict[str, Any]] = json.loads(done.stdout)["results"]
        assert len(results) == len(tasks)
        return results

    def one(self, task: dict[str, Any]) -> dict[str, Any]:
        return self.ask([task])[0]
