"""`make demo` tells the whole incident and keeps working: it runs here, start to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).parents[2] / "scripts" / "demo.sh"


@pytest.mark.slow
def test_the_demo_runs_to_the_end_and_tells_the_incident(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "DEMO_DIR": str(tmp_path / "demo"), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    env.pop("CHAINPROOF_STORE", None)
    done = subprocess.run(
        ["bash", str(DEMO)], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert "Traceback" not in out
    assert "UNEXPECTED" not in out
    assert "impact: 1 environment" in out
    assert "VERIFY FAILED" in out
    assert "every one passes the policy" in out
    report = tmp_path / "demo" / "incident-report.html"
    assert report.read_text().startswith("<!DOCTYPE html>")
    assert not (tmp_path / "demo" / "canary-fired").exists()
    # the vault, the grant and the witness, through a real server
    assert "all verified" in out
    assert "(403 no-grant)" in out
    assert "monitor ok:" in out
    pulled = sorted(p.name for p in (tmp_path / "demo" / "pulled-transcripts").iterdir())
    assert pulled == sorted(p.name for p in (tmp_path / "demo" / "transcripts").iterdir())
