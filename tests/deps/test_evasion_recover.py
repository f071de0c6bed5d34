"""The statements of a file that parse are found, when the whole file does not parse."""

from __future__ import annotations

from chainproof.deps.rules.recover import recover

SOURCE = b'''import os
@decorator
def f():
    """A docstring with a line
at column 0."""
    return 1
print "python 2"
if f():
    pass
else:
    os.getcwd()
'''


def test_only_the_statement_that_does_not_parse_is_dropped() -> None:
    recovered = recover(SOURCE)
    assert recovered is not None
    kept, dropped = recovered.kept.splitlines(), recovered.dropped.splitlines()
    assert len(kept) == len(dropped) == len(SOURCE.splitlines())
    assert [n for n, line in enumerate(dropped, 1) if line] == [7]
    assert kept[6] == b""
    assert kept[1] == b"@decorator"
    assert kept[9] == b"else:"


def test_nothing_to_recover_when_all_or_nothing_parses() -> None:
    assert recover(b"x = 1\ny = 2\n") is None
    assert recover(b'print "a"\nprint "b"\n') is None


def test_many_bad_statements_stay_bounded() -> None:
    source = (b'print "x"\n' + b"def f():\n    return 1\n" * 20) * 200 + b"exec(code)\n"
    recovered = recover(source)
    assert recovered is not None
    assert recovered.dropped.count(b"print") == 200
    assert recovered.kept.endswith(b"exec(code)\n")
