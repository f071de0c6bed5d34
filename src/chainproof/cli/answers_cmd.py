"""`chainproof lineage`, `verify` and `impact`: what the custody records say, checked and traced."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from chainproof.cli.custody_options import artifact, open_custody
from chainproof.cli.output import JsonOption
from chainproof.errors import UsageError

if TYPE_CHECKING:
    pass


class LineageFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"
    OPENLINEAGE = "openlineage"
    HTML = "html"


class VerifyFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"
    SARIF = "sarif"
    HTML = "html"


class ImpactFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"
    HTML = "html"


Output = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", metavar="FILE", help="Write the report to FILE (once it is done) instead of stdout."
    ),
]


def _write(text: str, output: Path | None, what: str) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from chainproof._internal.files import write_atomic

    write_atomic(output, text.encode("utf-8"))
    sys.stderr.write(f"chainproof: {what} written to {output}\n")


def lineage_command(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(metavar="ARTIFACT", help="A path or sha256:<hex>.")],
    fmt: Annotated[
        LineageFormat,
        typer.Option("--format", "-f", help="table, json, openlineage (run events, JSON Lines) or html."),
    ] = (LineageFormat.TABLE),
    output: Output = None,
    as_json: JsonOption = False,
) -> None:
    """Show an artifact's lineage: upstream to its raw data, downstream to what was made from it,
    every node with its digest and the log index of the record that links it."""
    custody = open_custody(ctx)
    d = artifact(target)
    graph = custody.lineage(d)
    fmt = LineageFormat.JSON if as_json else fmt
    if fmt is LineageFormat.JSON:
        import json

        from chainproof.lineage.shapes import graph_json

        text = json.dumps(graph_json(graph)) + "\n"
    elif fmt is LineageFormat.OPENLINEAGE:
        from chainproof.lineage.openlineage import events_jsonl

        text = events_jsonl(graph, custody.log.origin)
    elif fmt is LineageFormat.HTML:
        from chainproof.lineage.html import page

        text = page(graph, title=f"Lineage of {d}")
    else:
        from chainproof.lineage.text import lineage_text

        text = lineage_text(graph, color=output is None and sys.stdout.isatty())
    _write(text, output, "lineage")


def verify_command(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(metavar="ARTIFACT", help="A path or sha256:<hex>: a model, a dataset.")
    ],
    policy: Annotated[
        Path, typer.Option("--policy", metavar="FILE", help="The policy (see `policy template`).")
    ],
    fmt: Annotated[
        VerifyFormat, typer.Option("--format", "-f", help="table, json, sarif or html.")
    ] = VerifyFormat.TABLE,
    output: Output = None,
    as_json: JsonOption = False,
) -> None:
    """Walk an artifact back to its roots and check every hop against the policy.

    For every hop: the signing key registered and unrevoked at that point of the log; the actor's
    role and organisation allowed; every input produced earlier or ingested; contractor hops under
    a grant in force at that point of the log; environments passing the dependency rules as the
    advisories stand now. Every failing hop is reported with its reasons and log index.

    Exit codes: 0 every hop passes; 1 some hop fails; 2 usage or runtime error.
    """
    from chainproof.policy import load

    rules = load(policy)
    custody = open_custody(ctx)
    d = artifact(target)
    report = custody.verify(d, rules)
    fmt = VerifyFormat.JSON if as_json else fmt
    if fmt is VerifyFormat.JSON:
        import json

        from chainproof.lineage.shapes import verify_json

        text = json.dumps(verify_json(report)) + "\n"
    elif fmt is VerifyFormat.SARIF:
        from chainproof.lineage.sarif import render

        text = render(report)
    elif fmt is VerifyFormat.HTML:
        from chainproof.lineage.html import page

        text = page(custody.lineage(d), verified=report, title=f"Verify {d}")
    else:
        from chainproof.lineage.text import verify_text

        text = verify_text(report, color=output is None and sys.stdout.isatty())
    _write(text, output, "verify report")
    from chainproof.lineage.text import verify_summary

    if output is not None:
        sys.stderr.write(f"chainproof: {verify_summary(report)}\n")
    if not report.ok:
        raise typer.Exit(1)


def impact_command(
    ctx: typer.Context,
    package: Annotated[
        str | None, typer.Option("--package", metavar="NAME==VERSION", help="A compromised release.")
    ] = None,
    advisory: Annotated[
        str | None, typer.Option("--advisory", metavar="ID", help="An advisory id or alias.")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor", metavar="NAME", help="A compromised actor.")] = None,
    key: Annotated[
        str | None, typer.Option("--key", metavar="KEYID", help="A compromised key (id or name).")
    ] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", metavar="ARTIFACT", help="A compromised dataset.")
    ] = None,
    location: Annotated[
        str | None, typer.Option("--location", metavar="URI", help="A breached storage location.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", metavar="T", help="Only hops at or after T (RFC 3339).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", metavar="T", help="Only hops at or before T (RFC 3339).")
    ] = None,
    fmt: Annotated[
        ImpactFormat, typer.Option("--format", "-f", help="table, json or html.")
    ] = ImpactFormat.TABLE,
    output: Output = None,
    as_json: JsonOption = False,
) -> None:
    """The blast radius of something compromised: environments and runs affected, datasets exposed
    (their contents may have been taken) or tainted (their integrity is in doubt), models, grants,
    actors, and the credential names to rotate; every item with the log index that proves it.

    Only taint flows downstream: a model trained in a clean environment on a merely exposed
    dataset is not affected. Exit 0 when the query ran (whatever it found), 2 on a usage error.
    """
    from chainproof.custody.predicates import parse_time
    from chainproof.lineage.impact import Window

    given = {
        k: v
        for k, v in (
            ("--package", package),
            ("--advisory", advisory),
            ("--actor", actor),
            ("--key", key),
            ("--dataset", dataset),
            ("--location", location),
        )
        if v is not None
    }
    if len(given) != 1:
        raise UsageError("give exactly one of --package, --advisory, --actor, --key, --dataset, --location")
    window = Window(
        since=parse_time(since, "--since") if since else None,
        until=parse_time(until, "--until") if until else None,
    )
    custody = open_custody(ctx)
    if package is not None:
        name, sep, version = package.partition("==")
        if not sep or not name.strip() or not version.strip():
            raise UsageError(f"--package {package!r} is not NAME==VERSION")
        report = custody.impact_of_package(name.strip(), version.strip(), window)
    elif advisory is not None:
        report = custody.impact_of_advisory(advisory, window)
    elif actor is not None:
        report = custody.impact_of_actor(actor, window)
    elif key is not None:
        report = custody.impact_of_key(key, window)
    elif dataset is not None:
        report = custody.impact_of_dataset(artifact(dataset))
    else:
        assert location is not None
        report = custody.impact_of_location(location, window)
    fmt = ImpactFormat.JSON if as_json else fmt
    if fmt is ImpactFormat.JSON:
        import json

        from chainproof.lineage.shapes import impact_json

        text = json.dumps(impact_json(report)) + "\n"
    elif fmt is ImpactFormat.HTML:
        from chainproof.lineage.html import page

        first = report.models[0].digest if report.models else None
        text = page(
            custody.lineage(first) if first else None,
            impact=report,
            title=f"Impact of {next(iter(given.values()))}",
        )
    else:
        from chainproof.lineage.text import impact_text

        text = impact_text(report, color=output is None and sys.stdout.isatty())
    _write(text, output, "impact report")
