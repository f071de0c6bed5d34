"""`chainproof policy template|check` end to end."""

from __future__ import annotations

from pathlib import Path

from cli_support import Cli


def test_template_checks_clean_and_reports_what_it_allows(cli: Cli, tmp_path: Path) -> None:
    text = cli.ok("policy", "template").out
    policy = tmp_path / "policy.toml"
    policy.write_text(text)
    human = cli.ok("policy", "check", policy).out
    assert "role contractor: may record access, annotate (under a grant: access, annotate)" in human
    obj = cli.ok("policy", "check", policy, "--json").json()
    assert obj["ok"] is True
    assert obj["roles"]["recorder"]["hops"] == ["evaluate", "ingest", "release", "train", "transform"]
    assert obj["requires"] == [{"hop": "release", "after": "evaluate"}]


def test_a_bad_policy_is_one_line_naming_the_line(cli: Cli, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        cli.ok("policy", "template").out.replace('issuers = ["admin", "recorder"]', 'issuers = ["ceo"]')
    )
    line = 1 + cli.ok("policy", "template").out.splitlines().index('issuers = ["admin", "recorder"]')
    message = cli.fails(1, "policy", "check", policy, "--json")
    assert message.startswith(f"{policy}:{line}: unknown role 'ceo'")
    policy.write_text("version = 1\n[roles\n")
    assert cli.fails(1, "policy", "check", policy).startswith(f"{policy}:2:")


def test_a_missing_policy_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    assert "cannot read the policy" in cli.fails(2, "policy", "check", tmp_path / "none.toml")
