"""The web UI end to end, in a real headless Chromium against a real server: sign-in by key file,
entries with inclusion proofs checked in the page, the lineage graph and its navigation, impact
and its rotation checklist, grants and their uses, the witness panel, a contractor's narrower
view, and the accessibility basics of every page. Screenshots of each page are kept."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from server_support import DATA, OTHER, build_store, request, serving
from ui_support import CREDENTIALS, MODEL, PACKAGE, TUNED, Browser, UiWorld

from chainproof.attest import http_signatures as hs
from chainproof.attest import keys
from chainproof.witness.cosignature import CosignatureSigner

CHECKS = (Path(__file__).parent / "a11y_checks.js").read_text()

FOCUSABLE = """
const all = [...document.querySelectorAll('a[href], button, input, select, textarea, summary')];
return all.filter(e => {
  const r = e.getBoundingClientRect();
  return !e.disabled && r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden';
});
"""


def accessible(browser: Browser, page: str) -> None:
    """The page passes the checks of a11y_checks.js, and Tab walks its controls in document order."""
    problems = browser.run(CHECKS)
    assert problems == [], f"{page}: {problems}"
    order = browser.run(FOCUSABLE)[:12]
    assert order, f"{page}: nothing to focus"
    browser.run("arguments[0].focus()", order[0])
    reached = [browser.run("return document.activeElement")]
    for _ in order[1:]:
        ActionChains(browser.driver).send_keys(Keys.TAB).perform()
        reached.append(browser.run("return document.activeElement"))
    assert [e.id or e.text for e in reached] == [e.id or e.text for e in order], page
    assert reached == order, f"{page}: Tab does not follow the document's order"


def test_sign_in_and_entries_with_verified_proofs(world: UiWorld, browser: Browser, artifacts: Path) -> None:
    browser.open(world.url + "/ui/")
    browser.wait("#keyfile")
    accessible(browser, "sign-in")
    browser.screenshot(artifacts, "01-sign-in")

    browser.sign_in(world.url, world.store.key_file("carol"))
    assert "carol (auditor, lab)" in browser.find("#who").text
    browser.wait("h1", text="Log entries")
    browser.idle()
    badges = [e.text for e in browser.all("td.proof .badge")]
    assert badges
    assert set(badges) == {"verified"}, badges
    assert "Checkpoint signature verified" in browser.find("p.checkpoint").text
    types = browser.find("table.entries").text
    assert "custody/grant" in types
    assert "log/genesis" in types
    # An entry's details: its leaf hash and the proof's hashes, opened from the keyboard.
    summary = browser.find("#entry-10 summary")
    browser.run("arguments[0].focus()", summary)
    ActionChains(browser.driver).send_keys(Keys.ENTER).perform()
    opened = browser.find("#entry-10 details")
    assert opened.get_attribute("open") is not None
    assert "Leaf hash (RFC 9162)" in opened.text
    assert len(opened.find_elements("css selector", "ol.hashes li")) >= 1
    assert '"grantee": "bob"' in opened.text
    accessible(browser, "entries")
    browser.screenshot(artifacts, "02-entries")


def test_tampering_is_refused_in_the_page(world: UiWorld, browser: Browser) -> None:
    browser.sign_in(world.url, world.store.key_file("carol"))
    result = browser.run_async(
        """
        const done = arguments[arguments.length - 1];
        const pem = arguments[0];
        (async () => {
          const v = await import('/ui/verify.js');
          const b = await import('/ui/bytes.js');
          const s = await import('/ui/sign.js');
          const signer = await s.importKeyFile(pem);
          const get = (path) => s.signedJson(signer, 'GET', path);
          const info = await get('/v1/log');
          const cp = await get('/v1/log/checkpoint');
          const opened = await v.openCheckpoint(cp.note, info.vkey);
          const out = {size: opened.size, good: [], leaf: [], proof: [], root: []};
          const page = await get('/v1/log/entries?start=0&limit=100');
          for (const e of page.entries) {
            const leaf = b.fromBase64(e.leaf);
            const p = await get(`/v1/log/proofs/inclusion?index=${e.index}&size=${opened.size}`);
            const hash = await v.leafHash(leaf);
            out.good.push(await v.verifyInclusion(e.index, opened.size, hash, p.proof, opened.root));
            const changed = leaf.slice(); changed[10] ^= 1;
            const other = await v.leafHash(changed);
            out.leaf.push(await v.verifyInclusion(e.index, opened.size, other, p.proof, opened.root));
            if (p.proof.length) {
              const bad = [...p.proof]; bad[0] = bad[0].slice(0, -1) + (bad[0].endsWith('0') ? '1' : '0');
              out.proof.push(await v.verifyInclusion(e.index, opened.size, hash, bad, opened.root));
            }
            const root = opened.root.slice(); root[0] ^= 1;
            out.root.push(await v.verifyInclusion(e.index, opened.size, hash, p.proof, root));
          }
          const forged = cp.note.replace(/\\n(\\d+)\\n/, (m, n) => `\\n${Number(n) + 1}\\n`);
          try { await v.openCheckpoint(forged, info.vkey); out.forged = 'accepted'; }
          catch (e) { out.forged = String(e.message); }
          const other = info.vkey.replace(/\\+[0-9a-f]{8}\\+/, '+00000000+');
          try { await v.openCheckpoint(cp.note, other); out.otherKey = 'accepted'; }
          catch (e) { out.otherKey = String(e.message); }
          return out;
        })().then(done, (e) => done({error: String(e)}));
        """,
        world.store.key_file("carol").read_text(),
    )
    assert "error" not in result, result
    assert len(result["good"]) == result["size"]
    assert all(result["good"])
    assert not any(result["leaf"])
    assert not any(result["proof"])
    assert not any(result["root"])
    assert "does not verify" in result["forged"]
    assert result["otherKey"] != "accepted"


def test_lineage_graph_and_its_navigation(world: UiWorld, browser: Browser, artifacts: Path) -> None:
    browser.sign_in(world.url, world.store.key_file("carol"))
    browser.go(f"#/lineage/{MODEL}")
    svg = browser.wait("svg.graph[data-drawn]")
    names = [a.get_attribute("aria-label") for a in browser.all("svg.graph a.node")]
    assert any(n.startswith(DATA) for n in names), names
    assert any(n.startswith(TUNED) for n in names), names
    assert any(n.startswith(f"{MODEL} (this artifact)") for n in names), names
    hops = [g.get_attribute("aria-label") for g in browser.all("svg.graph g.node.hop")]
    assert sorted(h.split(",")[0] for h in hops) == ["ingest", "train", "train"], hops
    assert MODEL in svg.find_element("css selector", "title").get_attribute("textContent")
    accessible(browser, "lineage")
    browser.screenshot(artifacts, "03-lineage")

    # A node is a link: focused and activated by Enter, it opens that artifact's own lineage.
    tuned = next(
        a for a in browser.all("svg.graph a.node") if a.get_attribute("aria-label").startswith(TUNED)
    )
    browser.run("arguments[0].focus()", tuned)
    ActionChains(browser.driver).send_keys(Keys.ENTER).perform()
    browser.wait("h2", text=TUNED[:19])
    browser.wait("svg.graph[data-drawn]")
    assert browser.run("return decodeURIComponent(location.hash)") == f"#/lineage/{TUNED}"
    upstream = [a.get_attribute("aria-label") for a in browser.all("svg.graph a.node")]
    assert any(n.startswith(f"{TUNED} (this artifact)") for n in upstream)
    assert any(n.startswith(OTHER) for n in upstream)  # two hops up


def test_impact_and_its_rotation_checklist(world: UiWorld, browser: Browser, artifacts: Path) -> None:
    browser.sign_in(world.url, world.store.key_file("carol"))
    browser.go("#/impact")
    browser.wait("#impact-kind")
    browser.find("#impact-kind").send_keys("Package")
    field = browser.find("#impact-value")
    field.send_keys(f"{PACKAGE[0]}=={PACKAGE[1]}")
    field.send_keys(Keys.ENTER)
    browser.wait("h2", text="Impact of package")
    browser.idle()
    boxes = browser.all(".checklist input[type=checkbox]")
    labels = [browser.find(f"label[for='{b.get_attribute('id')}']").text for b in boxes]
    assert labels == [f"Rotate {c}" for c in CREDENTIALS]
    boxes[0].send_keys(Keys.SPACE)
    assert boxes[0].is_selected()
    assert not boxes[1].is_selected()
    models = browser.find("main").text
    assert MODEL[:19] in models
    assert TUNED[:19] in models
    accessible(browser, "impact")
    browser.screenshot(artifacts, "04-impact")


def test_grants_and_who_used_them(world: UiWorld, browser: Browser, artifacts: Path) -> None:
    browser.sign_in(world.url, world.store.key_file("carol"))
    browser.go("#/grants")
    section = browser.wait("section.dataset", text="Uses")
    text = section.text
    assert "bob" in text
    assert "labelling" in text
    assert "active" in text
    uses = section.find_elements("css selector", "table")[1].text
    assert "bob" in uses
    assert "no grant" not in uses
    accessible(browser, "grants")
    browser.screenshot(artifacts, "05-grants")


def test_witness_panel(world: UiWorld, browser: Browser, artifacts: Path) -> None:
    browser.sign_in(world.url, world.store.key_file("carol"))
    browser.go("#/witnesses")
    panel = browser.wait("#witness-panel")
    browser.idle()
    # This server has no witnesses: the panel says so, whether or not it serves /v1/witnesses.
    assert "No witnesses configured" in panel.text
    assert "Latest checkpoint" in browser.find("main").text
    accessible(browser, "witnesses")
    browser.screenshot(artifacts, "06-witnesses")


def test_a_contractor_sees_only_what_it_is_granted(world: UiWorld, browser: Browser, artifacts: Path) -> None:
    browser.sign_in(world.url, world.store.key_file("bob"))
    assert "bob (contractor, annotators)" in browser.find("#who").text
    browser.wait("h1", text="Grants")  # a contractor starts at its grants
    browser.idle()
    datasets = [e.text for e in browser.all("section.dataset h2")]
    assert len(datasets) == 1
    assert DATA[:19] in datasets[0]
    browser.screenshot(artifacts, "07-contractor-grants")

    browser.go("#/entries")
    assert "Denied" in browser.wait(".error.denied").text
    accessible(browser, "a contractor's denial")
    browser.screenshot(artifacts, "07-contractor-denied")
    browser.go(f"#/lineage/{OTHER}")
    assert "holds no live grant" in browser.wait(".error.denied").text
    browser.go(f"#/lineage/{DATA}")
    browser.wait("svg.graph[data-drawn]")
    browser.go("#/impact/actor/alice")
    assert "Denied" in browser.wait(".error.denied").text


def test_key_files_the_page_refuses(world: UiWorld, browser: Browser, tmp_path: Path) -> None:
    unknown = tmp_path / "unknown.pem"
    keys.write_private(unknown, keys.generate())
    public = tmp_path / "public.pem"
    public.write_text(keys.public_pem(keys.generate().public_key()))
    garbled = tmp_path / "garbled.pem"
    garbled.write_text("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n-----END PRIVATE KEY-----\n")
    expected = {
        public: "not a private key",
        unknown: "unknown key",
        garbled: "not valid base64",
    }
    for path, message in expected.items():
        browser.open(world.url + "/ui/")
        browser.wait("#keyfile").send_keys(str(path))
        shown = browser.wait("#signin-status .error").text
        assert message in shown, (path.name, shown)
        assert browser.find("#nav").get_attribute("hidden") is not None


def test_an_encrypted_key_file_is_opened_with_its_passphrase(
    world: UiWorld, browser: Browser, tmp_path: Path, artifacts: Path
) -> None:
    """`key new --passphrase-env` writes PBES2 (PBKDF2-HMAC-SHA-256, AES-256-CBC): the page asks
    for the passphrase and decrypts the key itself."""
    encrypted = tmp_path / "carol-encrypted.pem"
    keys.write_private(encrypted, world.store.keys["carol"], passphrase=b"correct horse")
    assert "ENCRYPTED PRIVATE KEY" in encrypted.read_text()
    browser.open(world.url + "/ui/")
    browser.wait("#keyfile").send_keys(str(encrypted))
    field = browser.wait("#unlock:not([hidden]) #passphrase")
    assert browser.run("return document.activeElement.id") == "passphrase"
    accessible(browser, "sign-in, passphrase")
    browser.screenshot(artifacts, "01-sign-in-passphrase")
    field.send_keys("wrong horse", Keys.ENTER)
    assert "passphrase is wrong" in browser.wait("#signin-status .error").text
    assert browser.find("#nav").get_attribute("hidden") is not None
    field.send_keys("correct horse", Keys.ENTER)
    assert "carol (auditor, lab)" in browser.wait("#who", text="Signed in as").text


def test_an_unsigned_ui_request_is_denied_and_logged(world: UiWorld, browser: Browser) -> None:
    """The page's own JSON endpoints refuse an unsigned request (as every API route refuses what
    its rules refuse), and the refusal is in the log, where the entries page shows it."""
    before = request(world.url, "GET", "/v1/log", world.store.keys["carol"]).json()["tree_size"]
    answers = browser.run_async(
        """
        const done = arguments[arguments.length - 1];
        Promise.all(['/v1/whoami', '/v1/grants/uses?artifact=' + arguments[0]].map(async (p) => {
          const r = await fetch(p);
          return [r.status, (await r.json()).code];
        })).then(done, (e) => done(String(e)));
        """,
        DATA,
    )
    assert answers == [[401, "unsigned"], [401, "unsigned"]]
    browser.sign_in(world.url, world.store.key_file("carol"))
    deadline = time.monotonic() + 30
    while True:
        browser.go("#/witnesses")
        browser.go(f"#/entries/start={before}")
        rows = [r for r in browser.all("table.entries tbody tr") if "server/denied-request" in r.text]
        shown = "\n".join(r.text for r in rows)
        if "GET /v1/whoami" in shown and "GET /v1/grants/uses" in shown:
            break
        assert time.monotonic() < deadline, browser.find("main").text
        time.sleep(0.5)
    for row in rows:
        assert row.find_element("css selector", "td.proof").text == "verified"


def test_keyboard_reaches_every_section(world: UiWorld, browser: Browser) -> None:
    """Every section is reached by Tab from the navigation and opened by Enter, and no page
    logs an error to the console (a script or style the policy blocked, a failed request)."""
    browser.sign_in(world.url, world.store.key_file("carol"))
    browser.idle()
    browser.driver.get_log("browser")  # what earlier tests left
    for name in ("lineage", "impact", "grants", "witnesses", "entries"):
        link = browser.find(f"#nav a[href='#/{name}']")
        browser.run("arguments[0].focus()", link)
        ActionChains(browser.driver).send_keys(Keys.ENTER).perform()
        browser.idle()
        assert browser.run("return location.hash") == f"#/{name}"
        assert link.get_attribute("aria-current") == "page"
    browser.go(f"#/lineage/{MODEL}")
    browser.go("#/impact/actor/alice")
    errors = [e for e in browser.driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert errors == []


def test_witness_panel_of_a_cosigned_log(browser: Browser, artifacts: Path, tmp_path: Path) -> None:
    """A log with one witness that cosigned its latest checkpoint: the panel lists the witness and
    its size, and the page checks the checkpoint's cosignature itself."""
    store = build_store(tmp_path / "store", tmp_path)
    signer = CosignatureSigner("witness.example/w1", keys.generate())
    with serving(store.directory, "--witness", signer.verifier.vkey, work=tmp_path) as server:
        note = request(server.url, "GET", "/v1/log/checkpoint").json()["note"]
        body = note.rpartition("\n\n")[0] + "\n"
        line = signer.cosign(body, int(time.time())).line()
        handed = request(
            server.url, "POST", "/v1/log/cosignatures", signer.private_key, body=(note + line).encode()
        )
        assert handed.status_code == 200, handed.text
        browser.sign_in(server.url, store.key_file("carol"))
        browser.go("#/witnesses")
        panel = browser.find("#witness-panel").text
        assert "witness.example/w1" in panel
        assert "No witnesses configured" not in panel
        cosigned = browser.find("#cosignatures").text
        assert "witness.example/w1" in cosigned
        assert [b.text for b in browser.all("#cosignatures td .badge")] == ["verified"]
        # The page's check refuses a changed cosignature and one over another checkpoint.
        refused = browser.run_async(
            r"""
            const [note, line, vkey, done] = arguments;
            (async () => {
              const v = await import('/ui/verify.js');
              const b = await import('/ui/bytes.js');
              const [dash, name, sig] = line.trimEnd().split(' ');
              const blob = b.fromBase64(sig);
              blob[20] ^= 1;
              const out = {good: await v.cosignedAt(note + line, vkey)};
              for (const [label, text] of [
                ['changed', note + `${dash} ${name} ${b.toBase64(blob)}\n`],
                ['other', note.replace(/\n(\d+)\n/, (m, n) => `\n${Number(n) + 1}\n`) + line],
              ]) {
                try { out[label] = await v.cosignedAt(text, vkey); }
                catch (e) { out[label] = e.message; }
              }
              return out;
            })().then(done, (e) => done({error: String(e)}));
            """,
            note,
            line,
            signer.verifier.vkey,
        )
        assert isinstance(refused["good"], int)
        assert "does not verify" in refused["changed"]
        assert "does not verify" in refused["other"]
        accessible(browser, "witnesses, cosigned")
        browser.screenshot(artifacts, "08-witnesses-cosigned")


def test_the_page_signs_as_the_command_line_client_does(world: UiWorld, browser: Browser) -> None:
    """Ed25519 is deterministic: for the same request, time and nonce, the page's headers are
    byte for byte those of `chainproof.attest.http_signatures.sign_request`."""
    browser.open(world.url + "/ui/")
    key = keys.read_private(world.store.key_file("alice"))
    cases = [
        ("GET", world.url + "/v1/impact?package=torch%3D%3D2.1.0", b""),
        ("POST", world.url + "/v1/log/entries", b'{"payload": "\\u00e9t\\u00e9"}\n'),
    ]
    for method, url, body in cases:
        page = browser.run_async(
            """
            const [pem, method, url, body, done] = arguments;
            (async () => {
              const s = await import('/ui/sign.js');
              const signer = await s.importKeyFile(pem);
              const bytes = new TextEncoder().encode(body);
              const headers = await s.signatureHeaders(signer, method, url, bytes, 1700000000999, 'n0nce');
              return [signer.keyid, headers];
            })().then(done, (e) => done(String(e)));
            """,
            world.store.key_file("alice").read_text(),
            method,
            url,
            body.decode(),
        )
        keyid, headers = page
        assert keyid == keys.keyid(key.public_key())
        assert headers == hs.sign_request(method, url, {}, body, key, now=1700000000, nonce="n0nce")


def test_keys_encrypted_by_openssl_open_in_the_page(world: UiWorld, browser: Browser, tmp_path: Path) -> None:
    """OpenSSL, an independent writer of PBES2, with other ciphers and PRFs than ours."""
    browser.open(world.url + "/ui/")
    plain = world.store.key_file("carol")
    want = keys.keyid(world.store.keys["carol"].public_key())
    schemes = (
        ("aes-128-cbc", "hmacWithSHA1", want),
        ("aes-128-cbc", "hmacWithSHA256", want),
        ("aes-256-cbc", "", want),
        ("aes-192-cbc", "", "Error: This key file is encrypted with a cipher the page does not take"),
    )
    for cipher, prf, expected in schemes:
        out = tmp_path / f"{cipher}-{prf or 'default'}.pem"
        command = ["openssl", "pkcs8", "-topk8", "-in", str(plain), "-out", str(out), "-v2", cipher]
        command += ["-passout", "pass:s3cret", *(["-v2prf", prf] if prf else [])]
        subprocess.run(command, check=True, capture_output=True)
        got = browser.run_async(
            """
            const [pem, done] = arguments;
            import('/ui/sign.js')
              .then((s) => s.importKeyFile(pem, 's3cret'))
              .then((k) => done(k.keyid), (e) => done(String(e)));
            """,
            out.read_text(),
        )
        assert got.startswith(expected), (cipher, prf, got)
