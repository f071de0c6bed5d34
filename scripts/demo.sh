#!/usr/bin/env bash
# The reference incident, end to end, on the embedded SQLite store. A lab and its data vendor record
# every hop from raw data to released models: contractors annotate two datasets under grants, the
# lab transforms them and trains two models, one on a box that (unknown to anyone) holds a harmless
# replica of the compromised LiteLLM 1.82.8. Then the advisory arrives: `impact` names exactly the
# tainted run, model, datasets and credentials; `verify` fails the tainted model and passes the clean
# one; an HTML report is written. An auditor checks the whole log offline and catches a forgery,
# and the dependency guard keeps the replica off the next machine. Last, the vendor serves the log:
# its data sealed in the vault, pulled only under a grant, its checkpoints cosigned by a witness.
set -euo pipefail

work=${DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/chainproof-demo.XXXXXX")}
mkdir -p "$work"
export CHAINPROOF_STORE="$work/store"
cd "$work"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '%s\n' "$*"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
# Run a command that must fail with exactly this exit code (1: verification failed, findings).
expect_exit() {
    local want=$1; shift
    set +e; "$@"; local got=$?; set -e
    [ "$got" -eq "$want" ] || { say "UNEXPECTED: \`$*\` exited $got, not $want"; exit 1; }
}
hop_index() { python3 -c "import json,sys; print(next(h['index'] for h in json.load(sys.stdin)['hops'] if h['hop'] == '$1'))"; }
# The credentials a training box holds. The values are dummies; only their names are ever recorded.
export AWS_ACCESS_KEY_ID=AKIA-DEMO AWS_SECRET_ACCESS_KEY=demo-secret-never-recorded OPENAI_API_KEY=sk-demo

step "1. The lab creates its custody log"
vkey=$(chainproof init --origin lab.example/custody --json | json '["vkey"]')
say "store: $CHAINPROOF_STORE"
say "checkpoint verifier key (the lab gives it to partners and auditors): $vkey"

step "2. Every actor gets a key, and the admin records who they are"
while read -r name role org; do
    chainproof key new "$name" --out "$work/$name.pem" > /dev/null
    chainproof actor add "$name" --role "$role" --org "$org" --key "$work/$name.pem"
done <<'ACTORS'
vendor-ingest recorder vendor
ann-17 contractor labelco
ann-22 contractor labelco
lab-ci recorder lab
ACTORS

step "3. The vendor ingests two datasets: each is named by the Merkle root of its manifest"
mkdir -p transcripts tickets
for i in $(seq -w 1 40); do printf '{"id": "%s", "text": "customer call %s"}\n' "$i" "$i" > "transcripts/shard-$i.jsonl"; done
for i in $(seq -w 1 25); do printf '{"id": "%s", "text": "support ticket %s"}\n' "$i" "$i" > "tickets/part-$i.jsonl"; done
chainproof data manifest transcripts
printf '{"source": "call-centre export", "licence": "customer-contract-7", "location": "s3://vendor-bucket/transcripts/", "classification": "confidential"}' > ingest-transcripts.json
printf '{"source": "helpdesk export", "licence": "customer-contract-7", "location": "s3://vendor-bucket/tickets/", "classification": "internal"}' > ingest-tickets.json
chainproof record ingest --key vendor-ingest.pem --output transcripts --predicate ingest-transcripts.json
chainproof record ingest --key vendor-ingest.pem --output tickets --predicate ingest-tickets.json

step "4. Contractors get scoped, expiring grants, and annotate under them"
chainproof grant add ann-17 transcripts --purpose "intent labels, project chordus" --expires 2099-01-01T00:00:00Z --key vendor-ingest.pem
chainproof grant add ann-22 tickets --purpose "topic labels, project chordus" --expires 2099-01-01T00:00:00Z --key vendor-ingest.pem
printf '{"id": 1, "intent": "refund"}\n' > transcript-labels.jsonl
printf '{"id": 1, "topic": "billing"}\n' > ticket-labels.jsonl
printf '{"organisation": "labelco", "worker": "w-0017", "task": "intent labels", "guidelines": "v3"}' > annotate.json
chainproof record annotate --key ann-17.pem --input transcripts --output transcript-labels.jsonl --predicate annotate.json
chainproof record annotate --key ann-22.pem --input tickets --output ticket-labels.jsonl
chainproof grant list

step "5. The lab builds two training boxes: one clean, one that pulled LiteLLM 1.82.8 during its 3 hours on PyPI"
python3 - <<'EOF_BOXES'
# Two virtual environments written as an installer would. The LiteLLM replica is harmless: its
# .pth start-up hook would only decode and run code that writes a canary file. Nothing here runs it.
import base64, hashlib, os
def install(venv, name, version, files):
    site = f"{venv}/lib/python3/site-packages"
    info = f"{name}-{version}.dist-info"
    files = {**files, f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{info}/INSTALLER": "pip\n"}
    record = []
    for rel, text in files.items():
        os.makedirs(os.path.dirname(f"{site}/{rel}"), exist_ok=True)
        open(f"{site}/{rel}", "w").write(text)
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{rel},sha256={digest},{len(text.encode())}")
    open(f"{site}/{info}/RECORD", "w").write("\n".join(record + [f"{info}/RECORD,,"]) + "\n")
    open(f"{venv}/pyvenv.cfg", "w").write("home = /usr/bin\n")
payload = base64.b64encode(b"open('canary-fired', 'w').write('the hook ran')\n").decode()
hook = ("import os, subprocess, sys; subprocess.Popen([sys.executable, '-c', "
        f"\"import base64; exec(base64.b64decode('{payload}'))\"])\n")
for box in ("trainbox", "cleanbox"):
    install(box, "tinytorch", "2.9.0", {"tinytorch/__init__.py": "__version__ = '2.9.0'\n"})
install("trainbox", "litellm", "1.82.8", {"litellm/__init__.py": "__version__ = '1.82.8'\n", "litellm_init.pth": hook})
install("cleanbox", "litellm", "1.82.6", {"litellm/__init__.py": "__version__ = '1.82.6'\n"})
EOF_BOXES
say "trainbox: tinytorch 2.9.0, litellm 1.82.8 (compromised, not yet known); cleanbox: tinytorch 2.9.0, litellm 1.82.6"

step "6. The lab transforms the labelled data and trains two models; every run records its environment"
mkdir -p train-mix && cat transcript-labels.jsonl ticket-labels.jsonl > train-mix/mix.jsonl
chainproof record transform --key lab-ci.pem --input transcripts --input transcript-labels.jsonl \
    --input tickets --input ticket-labels.jsonl --output train-mix --env cleanbox
printf 'weights of model A' > model-a.safetensors
printf 'weights of model B' > model-b.safetensors
chainproof record train --key lab-ci.pem --input train-mix --output model-a.safetensors --env trainbox
chainproof record train --key lab-ci.pem --input train-mix --output model-b.safetensors --env cleanbox
say "(model A's record already carries warnings: the bundled advisory knows LiteLLM 1.82.8. In March"
say " 2026 nobody did yet; the record is evidence either way, so the hop is recorded.)"
for m in a b; do
    printf '{"suite": "safety-v2", "metrics": {"refusal_rate": 0.98, "accuracy": 0.91}}' > eval.json
    chainproof record evaluate --key lab-ci.pem --input "model-$m.safetensors" --predicate eval.json
    chainproof record release --key lab-ci.pem --input "model-$m.safetensors" --predicate <(printf '{"channel": "internal", "approver": "safety-review"}')
done

step "7. The vendor's security partner saves today's signed checkpoint"
chainproof log checkpoint > saved-checkpoint.txt
chainproof verify-note saved-checkpoint.txt --vkey "$vkey" > /dev/null && say "the checkpoint's signature verifies with the lab's verifier key"

step "8. The advisory arrives (MAL-2026-2144: LiteLLM 1.82.8 is malicious). What is affected?"
chainproof impact --package litellm==1.82.8
say "(exposed: the contents may have been taken; tainted: the integrity is in doubt. Model B was"
say " trained on the same data, which is only exposed, in a clean box: it is not affected.)"

step "9. Verify both models against the lab's policy before anything else ships"
chainproof policy template > policy.toml
chainproof policy check policy.toml > /dev/null && say "policy.toml: valid"
expect_exit 1 chainproof verify model-a.safetensors --policy policy.toml
chainproof verify model-b.safetensors --policy policy.toml
chainproof impact --package litellm==1.82.8 --format html --output incident-report.html
expect_exit 1 chainproof --quiet verify model-a.safetensors --policy policy.toml --format sarif --output model-a.sarif
say "HTML report (opens without a network): $work/incident-report.html"

step "10. Anyone can prove model B's release is in the log, against the saved checkpoint"
release_b=$(chainproof lineage model-b.safetensors --json | hop_index release)
chainproof log prove "$release_b" --size "$(sed -n 2p saved-checkpoint.txt)" --json > release-proof.json
chainproof verify-proof release-proof.json --checkpoint saved-checkpoint.txt --vkey "$vkey"

step "11. The compromised box's key is revoked; the log refuses it from then on"
chainproof key revoke lab-ci --reason "trainbox ran LiteLLM 1.82.8: credentials stolen"
printf 'forged' > forged.bin
expect_exit 1 chainproof record train --key lab-ci.pem --input train-mix --output forged.bin
say "(a record signed by lab-ci after its revocation is rejected, as it must be)"

step "12. An auditor checks the exported log offline, trusting only the verifier key"
chainproof log export custody.export
chainproof audit --export custody.export --vkey "$vkey" --checkpoint saved-checkpoint.txt

step "13. Someone edits one byte of model A's training record: the audit names the entry"
train_a=$(chainproof lineage model-a.safetensors --json | hop_index train)
chainproof log get "$train_a" --raw > train.leaf
python3 - <<'EOF_FORGE'
data = bytearray(open("custody.export", "rb").read())
at = data.index(open("train.leaf", "rb").read()) + 120   # a byte inside the signed payload
data[at] ^= 0x01
open("forged.export", "wb").write(bytes(data))
EOF_FORGE
expect_exit 1 chainproof audit --export forged.export --vkey "$vkey"
say "(one flipped byte, several problems: the entry no longer hashes to its leaf and its signature no"
say " longer verifies; and every signed checkpoint that covers the entry no longer matches the tree)"

step "14. The dependency guard would have caught the box: one scan, every report format"
expect_exit 1 chainproof deps scan trainbox --report json=trainbox-scan.json --report sarif=trainbox-scan.sarif \
    --report cyclonedx=trainbox-sbom.cdx.json
say "(exit 1: findings at --fail-on high or worse; reports in trainbox-scan.json, .sarif and trainbox-sbom.cdx.json)"

step "15. The next install goes through the gate: the same replica, as a wheel, never lands"
python3 -m venv nextbox
python3 - <<'EOF_WHEEL'
# The replica packaged as the wheel an attacker would upload (no index here: a local wheelhouse).
import base64, glob, hashlib, os, zipfile
site = glob.glob("trainbox/lib/python3/site-packages")[0]
members = {rel: open(f"{site}/{rel}", "rb").read() for rel in ("litellm/__init__.py", "litellm_init.pth")}
dist = "litellm-1.82.8.dist-info"
members[f"{dist}/METADATA"] = b"Metadata-Version: 2.1\nName: litellm\nVersion: 1.82.8\n"
members[f"{dist}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: demo\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
lines = [f"{rel},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}"
         for rel, data in members.items()]
members[f"{dist}/RECORD"] = ("\n".join(lines + [f"{dist}/RECORD,,"]) + "\n").encode()
os.makedirs("wheelhouse", exist_ok=True)
with zipfile.ZipFile("wheelhouse/litellm-1.82.8-py3-none-any.whl", "w") as zf:
    for rel, data in members.items():
        zf.writestr(rel, data)
EOF_WHEEL
PIP_CONFIG_FILE=/dev/null expect_exit 1 chainproof pip --python nextbox/bin/python install --no-index \
    --find-links wheelhouse litellm==1.82.8
ls nextbox/lib/python3*/site-packages | grep -q litellm && { say "UNEXPECTED: litellm was installed"; exit 1; }
test ! -e canary-fired || { say "UNEXPECTED: the payload ran"; exit 1; }
say "blocked before install: nothing was installed, and no payload ever ran in this demo"
grep -q demo-secret-never-recorded -r store && { say "UNEXPECTED: a secret value reached the store"; exit 1; }
say "no credential value was ever written to the store: only their names"

step "16. The vendor serves the log: its data in the vault, pulled only under a grant, and a witness cosigns"
# The master key lives outside the store; the server keeps the datasets encrypted under it.
export CHAINPROOF_HOME="$work/home"
chainproof vault keygen "$work/vault.key" > /dev/null
chainproof witness keygen "$work/witness.pem" --name witness.example/partner > /dev/null
witness_vkey=$(chainproof witness vkey --key "$work/witness.pem" --name witness.example/partner)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
chainproof serve --port "$port" --vault-key "$work/vault.key" --witness "$witness_vkey" 2> server.log &
server=$!
trap 'kill "$server" 2> /dev/null || true' EXIT
for _ in $(seq 100); do python3 -c "import urllib.request; urllib.request.urlopen('$url/readyz')" 2> /dev/null && break; sleep 0.2; done
root=$(chainproof --store "$url" --key vendor-ingest.pem data push transcripts --json | json '["root"]')
grep -rq "customer call" "$CHAINPROOF_STORE" && { say "UNEXPECTED: plaintext in the store"; exit 1; }
say "the vendor pushed transcripts ($root), sealed at rest: the store holds no plaintext of it"
chainproof --store "$url" --key ann-17.pem data pull "$root" pulled-transcripts
say "ann-17 holds a grant: the pull is in the log as ann-17's own access record, every file checked"
expect_exit 1 chainproof --store "$url" --key ann-22.pem data pull "$root" not-granted
say "(ann-22 holds no grant for transcripts: refused, and the refusal is in the log)"
chainproof witness check --log "$url" --state witness-state --key "$work/witness.pem" --name witness.example/partner
chainproof audit --remote "$url" --state lab-monitor --witness "$witness_vkey" --quorum 1
say "the lab's monitor accepts only checkpoints the partner's witness cosigned; a forked log would fail it"
say "(while a server runs, its web UI is at $url/ui/: sign in with an actor's key file)"
kill "$server"; wait "$server" 2> /dev/null || true

step "Done. Everything is in $work; the incident report is $work/incident-report.html"
