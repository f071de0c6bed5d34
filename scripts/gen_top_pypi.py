"""Write the name lists of the typosquat rules under src/chainproof/deps/rules/data/.

Usage: gen_top_pypi.py PYPI_TSV [COUNT]. PYPI_TSV has the columns name, version, month,
rank_among_15000_most_downloaded, summary; rows without a rank are left out. `top-pypi.txt` gets
the COUNT (default 5000) most-downloaded projects, one PEP 503 normalised name per line, most
downloaded first, so a name's line number is its rank; `known-pypi.txt` gets the rest of the ranked
projects: established names that the rules never flag, though nobody squats them.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "src/chainproof/deps/rules/data"


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def ranked_names(tsv: Path) -> list[str]:
    ranked: list[tuple[int, str]] = []
    with tsv.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            rank = (row.get("rank_among_15000_most_downloaded") or "").strip()
            if rank.isdigit():
                ranked.append((int(rank), normalise(row["name"])))
    ranked.sort()
    return list(dict.fromkeys(name for _, name in ranked))


def main() -> None:
    tsv = Path(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    names = ranked_names(tsv)
    write(DATA / "top-pypi.txt", names[:count], "most-downloaded PyPI projects, most downloaded first")
    write(
        DATA / "known-pypi.txt", names[count:], f"next most-downloaded PyPI projects, after the top {count}"
    )


def write(path: Path, names: list[str], what: str) -> None:
    header = f"# The {len(names)} {what} (scripts/gen_top_pypi.py)\n"
    path.write_text(header + "".join(n + "\n" for n in names), encoding="utf-8")
    print(f"wrote {len(names)} names to {path}")


if __name__ == "__main__":
    main()
