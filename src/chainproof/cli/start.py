"""The `chainproof` console script: the CLI, started with the cyclic garbage collector paused.

A CLI call spends most of its time importing (typer, click, the command's modules), and those
imports create many objects but almost no garbage cycles; collections triggered during them cost
about a tenth of the start-up for nothing. `main` turns the collector back on once the command
line is built, before any command runs.
"""

from __future__ import annotations

import gc


def run() -> int:
    gc.disable()
    from chainproof.cli.app import main

    return main()
