"""The manifest model, without the file system: leaf encoding, root, proofs, tampering, JSON, diff.

Every expected root and path comes from `manifest_naive` (RFC 9162's recursions and the `rfc8785`
package), never from the code under test.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest
import rfc8785
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from manifest_naive import entry_object, leaf, mth, path

from chainproof.custody import (
    EntryKind,
    FileEntry,
    FileProof,
    FileProofError,
    Manifest,
    ManifestError,
    diff,
    format_digest,
    parse_digest,
    prove,
    prove_all,
    verify_entry,
)
from chainproof.log import proofs

# -- a known answer, by hand -------------------------------------------------------------------

HELLO = hashlib.sha256(b"hello\n").hexdigest()
BYTES = hashlib.sha256(bytes(range(256))).hexdigest()
EMPTY = hashlib.sha256(b"").hexdigest()
LINK = hashlib.sha256(b"a.txt").hexdigest()
# The leaves exactly as docs/formats.md spells them: keys sorted, no spaces, UTF-8.
KAT_LEAVES = [
    f'{{"path":"a.txt","sha256":"{HELLO}","size":6}}',
    f'{{"path":"dir/b.bin","sha256":"{BYTES}","size":256}}',
    f'{{"path":"link","sha256":"{LINK}","size":5,"target":"a.txt","type":"symlink"}}',
    f'{{"path":"ü.txt","sha256":"{EMPTY}","size":0}}',
]
KAT_ROOT = "sha256:f431b413ddde6ade4948dd1c3e36a04ab7f0c9c18b7ca13b06bdc5a6cf3878bf"


def kat_manifest() -> Manifest:
    return Manifest.of(
        [
            FileEntry(path="ü.txt", size=0, sha256=bytes.fromhex(EMPTY)),
            FileEntry.symlink(path="link", target="a.txt"),
            FileEntry(path="dir/b.bin", size=256, sha256=bytes.fromhex(BYTES)),
            FileEntry(path="a.txt", size=6, sha256=bytes.fromhex(HELLO)),
        ]
    )


def test_known_answer_leaves_and_root() -> None:
    m = kat_manifest()
    assert [e.path for e in m] == ["a.txt", "dir/b.bin", "link", "ü.txt"]
    assert [e.leaf() for e in m] == [text.encode() for text in KAT_LEAVES]
    expected = mth([text.encode() for text in KAT_LEAVES])
    assert m.root == expected
    assert m.digest == format_digest(expected)


def test_known_answer_root_is_pinned() -> None:
    """The figure itself, so that a change of encoding cannot pass unnoticed with its oracle."""
    assert format_digest(mth([text.encode() for text in KAT_LEAVES])) == KAT_ROOT
    assert kat_manifest().digest == KAT_ROOT


def test_empty_manifest_has_rfc9162_empty_root() -> None:
    m = Manifest.of([])
    assert m.root == hashlib.sha256(b"").digest()
    assert m.to_json() == {"root": "sha256:" + EMPTY, "files": []}
    assert Manifest.loads(m.dumps()) == m


def test_single_entry_root_is_its_leaf_hash() -> None:
    e = FileEntry(path="model.bin", size=6, sha256=bytes.fromhex(HELLO))
    assert Manifest.of([e]).root == hashlib.sha256(b"\x00" + e.leaf()).digest()


# -- strategies ----------------------------------------------------------------------------------

_part = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\0"), min_size=1, max_size=12
).filter(lambda p: p not in (".", ".."))
paths = st.lists(_part, min_size=1, max_size=3).map("/".join)


@st.composite
def entries(draw: st.DrawFn) -> FileEntry:
    p = draw(paths)
    if draw(st.integers(0, 4)) == 0:
        return FileEntry.symlink(path=p, target=draw(st.text(max_size=20)))
    return FileEntry(
        path=p, size=draw(st.integers(0, 2**53 - 1)), sha256=draw(st.binary(min_size=32, max_size=32))
    )


def _tree_ok(items: list[FileEntry]) -> list[FileEntry]:
    """Unique paths, and none a directory of another (a tree can hold only one of `a`, `a/b`)."""
    out: dict[str, FileEntry] = {}
    for e in items:
        parts = e.path.split("/")
        prefixes = {"/".join(parts[:i]) for i in range(1, len(parts))}
        if e.path in out or prefixes & out.keys() or any(k.startswith(e.path + "/") for k in out):
            continue
        out[e.path] = e
    return list(out.values())


manifests = st.lists(entries(), max_size=40).map(_tree_ok).map(Manifest.of)


def _naive_leaves(m: Manifest) -> list[bytes]:
    return [leaf(e.to_json()) for e in m]


# -- properties ----------------------------------------------------------------------------------


@given(entries())
def test_leaf_is_rfc8785_of_the_entry_object(e: FileEntry) -> None:
    assert e.leaf() == rfc8785.dumps(e.to_json())


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_leaf_strings_escape_as_rfc8785_does(text: str) -> None:
    target = FileEntry.symlink(path="p", target=text)
    assert target.leaf() == rfc8785.dumps(target.to_json())


@given(manifests)
def test_sorted_by_utf8_bytes_and_root_is_naive_mth(m: Manifest) -> None:
    keys = [e.path.encode("utf-8") for e in m]
    assert keys == sorted(keys)
    assert m.root == mth(_naive_leaves(m))


def test_sort_order_is_utf8_not_utf16() -> None:
    """U+E000 sorts before U+1F600 in UTF-8 (and code points); UTF-16 would put the emoji first."""
    a = FileEntry(path="\U0001f600", size=0, sha256=bytes(32))
    b = FileEntry(path="\ue000", size=0, sha256=bytes(32))
    assert [e.path for e in Manifest.of([a, b])] == ["\ue000", "\U0001f600"]


@settings(max_examples=60)
@given(manifests)
def test_every_proof_verifies_and_is_the_rfc_path(m: Manifest) -> None:
    leaves = _naive_leaves(m)
    for i, p in enumerate(prove_all(m)):
        assert p.inclusion.index == i
        assert list(p.inclusion.proof) == path(i, leaves)
        assert p == prove(m, p.entry.path)
        verify_entry(p.entry, proof=p, root=m.root)
        p.inclusion.verify()  # as `verify-proof` checks it


@settings(max_examples=60)
@given(manifests, st.data())
def test_any_change_to_the_file_fails_verification(m: Manifest, data: st.DataObject) -> None:
    assume(len(m) > 0)
    p = prove(m, data.draw(st.sampled_from([e.path for e in m])))
    e = p.entry
    changed = [replace(e, path=e.path + "x")]
    if e.kind is EntryKind.FILE:
        changed.append(replace(e, sha256=bytes([e.sha256[0] ^ 1]) + e.sha256[1:]))
        changed.append(replace(e, size=e.size ^ 1))
        changed.append(FileEntry.symlink(path=e.path, target=""))
    else:
        changed.append(FileEntry.symlink(path=e.path, target=(e.target or "") + "x"))
        changed.append(FileEntry(path=e.path, size=e.size, sha256=e.sha256))  # a file of the link's text
    for other in changed:
        with pytest.raises(FileProofError):
            verify_entry(other, proof=p, root=m.root)
        # Even a proof rewritten to name the changed entry leads elsewhere than the root.
        forged = FileProof(entry=other, inclusion=replace(p.inclusion, leaf_hash=other.leaf_hash))
        with pytest.raises(FileProofError):
            verify_entry(other, proof=forged, root=m.root)


@settings(max_examples=60)
@given(manifests, st.data())
def test_any_change_to_the_proof_fails_verification(m: Manifest, data: st.DataObject) -> None:
    assume(len(m) > 1)
    p = prove(m, data.draw(st.sampled_from([e.path for e in m])))
    inc = p.inclusion
    k = data.draw(st.integers(0, len(inc.proof) - 1))
    bit = data.draw(st.integers(0, 255))
    flipped = list(inc.proof)
    flipped[k] = bytes([flipped[k][0] ^ (1 << bit % 8)]) + flipped[k][1:] if bit < 8 else flipped[k][::-1]
    assume(flipped != list(inc.proof))
    tampered = [
        replace(inc, proof=tuple(flipped)),
        replace(inc, proof=inc.proof[:-1]),
        replace(inc, proof=(*inc.proof, bytes(32))),
        replace(inc, index=(inc.index + 1) % inc.tree_size),
        replace(inc, tree_size=inc.index),
    ]
    # A larger tree size alone is not in the list: leaf 0 of 3 and of 4 have proofs of one shape,
    # so it can lead to the same root, and the membership it proves is then still true.
    for bad in tampered:
        with pytest.raises(FileProofError):
            verify_entry(p.entry, proof=FileProof(entry=p.entry, inclusion=bad), root=m.root)
    other_root = bytes([m.root[0] ^ 1]) + m.root[1:]
    with pytest.raises(FileProofError, match="not sha256:"):
        verify_entry(p.entry, proof=p, root=other_root)


def test_verification_says_what_differs() -> None:
    m = kat_manifest()
    p = prove(m, "a.txt")
    other = FileEntry(path="a.txt", size=7, sha256=bytes(32))
    with pytest.raises(FileProofError, match="the proof is for 6 bytes, the file has 7"):
        verify_entry(other, proof=p, root=m.root)
    same_size = FileEntry(path="a.txt", size=6, sha256=bytes(32))
    with pytest.raises(FileProofError, match="the proof is for content sha256:5891"):
        verify_entry(same_size, proof=p, root=m.root)
    moved = replace(p.entry, path="b.txt")
    with pytest.raises(FileProofError, match=r"the proof is for 'a\.txt', not 'b\.txt'"):
        verify_entry(moved, proof=p, root=m.root)


# -- JSON --------------------------------------------------------------------------------------


@given(manifests)
def test_json_round_trips(m: Manifest) -> None:
    assert Manifest.from_json(json.loads(json.dumps(m.to_json()))) == m
    assert Manifest.loads(m.dumps()) == m
    for p in prove_all(m):
        again = FileProof.from_json(json.loads(json.dumps(p.to_json())))
        assert again == p
        assert proofs.parse(p.to_json()) == p.inclusion  # the log's reader takes it as it is


def _kat_json() -> dict[str, object]:
    return kat_manifest().to_json()


def _with_file(i: int, **changes: object) -> dict[str, object]:
    obj = _kat_json()
    files = obj["files"]
    assert isinstance(files, list)
    files[i] = {**files[i], **changes}
    return obj


BAD_MANIFESTS: dict[str, tuple[object, str]] = {
    "not an object": ([], 'exactly "root" and "files"'),
    "extra key": ({**_kat_json(), "x": 1}, 'exactly "root" and "files"'),
    "files not a list": ({"root": KAT_ROOT, "files": {}}, "must be a list"),
    "root without prefix": ({**_kat_json(), "root": KAT_ROOT[7:]}, "sha256:<64 hex digits>"),
    "root altered": ({**_kat_json(), "root": KAT_ROOT[:-1] + "1"}, "the manifest was altered"),
    "size altered": (_with_file(0, size=7), "the manifest was altered"),
    "sha256 altered": (_with_file(0, sha256=BYTES), "the manifest was altered"),
    "uppercase hex": (_with_file(0, sha256=HELLO.upper()), "lowercase hex"),
    "short hex": (_with_file(0, sha256=HELLO[:-2]), "lowercase hex"),
    "size as string": (_with_file(0, size="6"), "size must be an integer"),
    "size as bool": (_with_file(0, size=True), "size must be an integer"),
    "negative size": (_with_file(0, size=-1), "size must be an integer"),
    "size past 2**53": (_with_file(0, size=2**53), "size must be an integer"),
    "unknown key": (_with_file(0, mode=420), "unexpected keys ['mode']"),
    "missing key": ({"root": KAT_ROOT, "files": [{"path": "a", "size": 1}]}, "missing keys ['sha256']"),
    "absolute path": (_with_file(0, path="/a.txt"), "not a relative POSIX path"),
    "dot-dot path": (_with_file(0, path="x/../a.txt"), "not a relative POSIX path"),
    "dot path": (_with_file(0, path="./a.txt"), "not a relative POSIX path"),
    "trailing slash": (_with_file(0, path="a.txt/"), "not a relative POSIX path"),
    "empty path": (_with_file(0, path=""), "non-empty string"),
    "lone surrogate": (_with_file(0, path="\udcff.txt"), "not valid UTF-8"),
    "out of order": (_with_file(0, path="z.txt"), "out of order"),
    "twice": (_with_file(1, path="a.txt"), "twice"),
    "symlink hash not its target": (_with_file(2, target="b.txt"), "must be those of its target"),
    "symlink without target": (
        {"root": KAT_ROOT, "files": [{"path": "l", "size": 0, "sha256": EMPTY, "type": "symlink"}]},
        "missing keys ['target']",
    ),
}


@pytest.mark.parametrize("name", BAD_MANIFESTS)
def test_malformed_manifests_are_refused(name: str) -> None:
    obj, fragment = BAD_MANIFESTS[name]
    with pytest.raises(ManifestError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        Manifest.from_json(obj)


def test_a_file_and_a_directory_of_the_same_name_are_refused() -> None:
    a = FileEntry(path="a", size=0, sha256=bytes(32))
    b = FileEntry(path="a/b", size=0, sha256=bytes(32))
    c = FileEntry(path="a-c", size=0, sha256=bytes(32))  # sorts between "a" and "a/b"
    with pytest.raises(ManifestError, match="as a file and as a directory"):
        Manifest.of([a, b, c])


def test_loads_names_the_file() -> None:
    with pytest.raises(ManifestError, match=r"^m\.json is not JSON"):
        Manifest.loads(b"{", "m.json")
    with pytest.raises(ManifestError, match=r"^m\.json: the manifest's root"):
        Manifest.loads(json.dumps({**_kat_json(), "root": KAT_ROOT[:-1] + "1"}).encode(), "m.json")


def test_digests_parse() -> None:
    raw = bytes.fromhex(HELLO)
    assert parse_digest("sha256:" + HELLO) == raw
    assert parse_digest(HELLO.upper(), bare_ok=True) == raw
    for bad in (HELLO, "sha256:" + HELLO.upper(), "sha256:" + HELLO[:-1], "sha512:" + HELLO):
        with pytest.raises(ManifestError):
            parse_digest(bad)


def test_file_proof_refuses_a_leaf_hash_of_another_entry() -> None:
    obj = prove(kat_manifest(), "a.txt").to_json()
    with pytest.raises(ManifestError, match="not the hash of the entry"):
        FileProof.from_json({**obj, "size": 7})
    with pytest.raises(ManifestError, match="root and root_hash differ"):
        FileProof.from_json({**obj, "root": "sha256:" + EMPTY})
    with pytest.raises(ManifestError, match="missing keys"):
        FileProof.from_json({k: v for k, v in obj.items() if k != "sha256"})


# -- diff ----------------------------------------------------------------------------------------


@given(manifests, manifests)
def test_diff_accounts_for_every_path(old: Manifest, new: Manifest) -> None:
    d = diff(old, new)
    before = {e.path: e for e in old}
    after = {e.path: e for e in new}
    assert {e.path for e in d.added} == after.keys() - before.keys()
    assert {e.path for e in d.removed} == before.keys() - after.keys()
    assert {c.path for c in d.changed} == {p for p in before.keys() & after.keys() if before[p] != after[p]}
    assert d.identical == (old == new)
    assert diff(old, old).identical


def test_diff_json_shape() -> None:
    old = kat_manifest()
    new = Manifest.of(
        [e for e in old if e.path != "link"]
        + [FileEntry(path="new.txt", size=0, sha256=bytes.fromhex(EMPTY))]
    )
    new = Manifest.of([replace(e, size=7) if e.path == "a.txt" else e for e in new])
    obj = diff(old, new).to_json()
    assert obj["old"] == old.digest
    assert obj["new"] == new.digest
    assert obj["identical"] is False
    assert [e["path"] for e in obj["added"]] == ["new.txt"]
    assert obj["removed"] == [entry_object("link", b"a.txt", "a.txt")]
    assert obj["changed"] == [
        {"path": "a.txt", "old": {"size": 6, "sha256": HELLO}, "new": {"size": 7, "sha256": HELLO}}
    ]


def test_the_formats_doc_shows_the_known_answer() -> None:
    """docs/formats.md's example manifest is this vector, byte for byte."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "formats.md").read_text(encoding="utf-8")
    example = doc.split("## Dataset manifests", 1)[1].split("```json\n", 1)[1].split("```", 1)[0]
    assert example.encode() == kat_manifest().dumps()
