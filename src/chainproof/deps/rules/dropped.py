"""Second stages: files a package writes and then launches.

Writing a script or an executable to disk and starting it is how a payload leaves the reviewable
source: the text written is code, and starting what was just written is execution. The file is
named by a variable, by a literal path or by its base name in a command line; each of those is
remembered as a key when the file is written, and a command that names one of them launches it.
Files written as input to another program (C sources for a compiler probe, data, configuration) are
not launched by naming them, so their suffixes are never remembered.
"""

from __future__ import annotations

import re

_INPUT_SUFFIX = re.compile(
    r"\.(c|cc|cpp|cxx|h|hpp|f|f90|pyx|pxd|cu|m|mm|s|asm|txt|json|cfg|ini|toml|md|rst|xml|ya?ml|csv|log"
    r"|html?|css|pem|crt|key|lock|pid|tmp|dat|db|sqlite)$",
    re.IGNORECASE,
)
_FILE_NAME = re.compile(r"[\w.-]+\.\w{1,5}$")
_SPLIT = re.compile(r"[\s\"'/\\]+")


def keys_of(strings: list[str]) -> set[str]:
    """The file names under which a written path can be launched later (full strings and base names)."""
    keys: set[str] = set()
    for text in strings:
        parts = [p for p in _SPLIT.split(text) if p]
        for part in [text, *parts[-1:]]:
            if _FILE_NAME.search(part) and not _INPUT_SUFFIX.search(part):
                keys.add(part)
    return keys


def input_file(strings: list[str]) -> bool:
    """Whether the path is plainly an input file (a C source, data, configuration): never a launch."""
    return any(_INPUT_SUFFIX.search(s.rstrip("'\" ")) for s in strings)


def names_key(text: str, keys: set[str]) -> bool:
    """Whether a command string names one of `keys` as a whole word of it."""
    if text in keys:
        return True
    return any(part in keys for part in _SPLIT.split(text))
