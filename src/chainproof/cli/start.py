"""The `chainproof` console script: the CLI, with the cyclic garbage collector kept out of start-up
and shut-down.

A CLI call spends most of its time importing (typer, click, the command's modules), and those
imports create many objects but almost no garbage cycles. Collections triggered during them cost
about a tenth of the start-up for nothing, so the collector is paused until the command line is
built (`main` turns it back on before any command runs). At exit the interpreter collects once
more, walking every one of those objects again: about 15 ms of a 130 ms `log get`. Freezing them
first leaves that walk out. Modules are still torn down and exit handlers still run; only objects
caught in reference cycles are no longer finalized, so a command closes what it opens itself
(`output.open_log` closes the store when the command ends).
"""

from __future__ import annotations

import gc


def run() -> int:
    gc.disable()
    from chainproof.cli.app import main

    try:
        return main()
    finally:
        gc.freeze()
