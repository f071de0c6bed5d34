"""Who used a dataset: its access records, each with the grant in force for its signer then."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cli_support import Cli

from chainproof.attest import keys
from chainproof.custody.hops import Hop
from chainproof.custody.records import Digest
from chainproof.custody.service import Custody
from chainproof.log.service import ADMIN_FILE, TransparencyLog


def _art(name: str) -> Digest:
    return Digest("sha256:" + hashlib.sha256(name.encode()).hexdigest())


def test_each_access_names_the_grant_that_covered_it_or_none(tmp_path: Path, cli: Cli) -> None:
    store = tmp_path / "store"
    custody = Custody(TransparencyLog.create(store, "uses.test/custody"))
    admin = keys.read_private(store / ADMIN_FILE)
    made = {}
    for name, role in (("lab", "recorder"), ("ann", "contractor")):
        made[name] = key = keys.generate()
        custody.log.register_key(name, key)
        custody.add_actor(name, role=role, organisation=name, keyid=keys.keyid(key.public_key()), admin=admin)
    raw = _art("raw")
    custody.record(Hop.INGEST, made["lab"], outputs=[raw])
    before = custody.record(
        Hop.ACCESS, made["ann"], inputs=[raw], time="2029-01-01T00:00:00Z"
    ).index  # no grant yet
    grant = custody.grant("ann", raw, purpose="labelling", expires="2999-01-01T00:00:00Z", key=made["lab"])
    covered = custody.record(Hop.ACCESS, made["ann"], inputs=[raw], time="2030-01-01T00:00:00Z").index
    late = custody.record(Hop.ACCESS, made["ann"], inputs=[raw], time="3000-01-01T00:00:00Z").index
    [state] = custody.grants(artifact=raw)
    custody.revoke_grant(state.entry.grant_id, key=made["lab"])
    after = custody.record(Hop.ACCESS, made["ann"], inputs=[raw], time="2031-01-01T00:00:00Z").index
    uses = custody.grant_uses(raw)
    custody.close()

    assert [(u.index, u.actor, u.grant_id) for u in uses] == [
        (before, "ann", None),
        (covered, "ann", state.entry.grant_id),
        (late, "ann", None),  # past the grant's expiry, by the time it states
        (after, "ann", None),  # after the revocation
    ]
    assert grant.index < covered
    shown = cli.ok("--store", store, "grant", "uses", raw, "--json").json()
    assert shown["artifact"] == raw
    assert [u["grant_id"] for u in shown["uses"]] == [None, state.entry.grant_id, None, None]
    human = cli.ok("--store", store, "grant", "uses", raw).out
    assert f"entry {covered}  ann" in human
    assert human.count("UNDER NO GRANT") == 3
    assert "no access records" in cli.ok("--store", store, "grant", "uses", _art("none")).out
