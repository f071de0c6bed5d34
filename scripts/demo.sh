#!/usr/bin/env bash
# The custody log end to end, on the embedded SQLite store: a lab and its data vendor record every
# hop from raw data to a released model, a contractor key is compromised and revoked, and an
# auditor checks the exported log offline and catches a one-byte forgery. Then the dependency guard
# finds a LiteLLM-style replica on a training box, and the pre-install gate keeps it off the next one.
set -euo pipefail

work=${DEMO_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/chainproof-demo.XXXXXX")}
mkdir -p "$work"
export CHAINPROOF_STORE="$work/store"
cd "$work"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

step "1. The lab creates its custody log (store: $CHAINPROOF_STORE)"
vkey=$(chainproof init --origin lab.example/custody --json | json '["vkey"]')
echo "checkpoint verifier key: $vkey"

step "2. The admin registers one key per actor"
for actor in vendor annotator-17 trainer-ci release-bot; do
    chainproof key new "$actor" --out "$work/$actor.pem"
done
chainproof key list

step "3. Every hop of the pipeline is attested and appended"
dataset=$(sha "raw customer transcripts, shard 0-127")
labels=$(sha "annotated transcripts v1")
model=$(sha "model weights, run 42")
echo '{"source": "s3://vendor-bucket/transcripts", "files": 128, "license": "customer-contract-7"}' > ingest.json
echo '{"task": "intent labels", "guidelines": "v3", "items": 48000}' > annotate.json
echo '{"code": "git+https://git.example/train@9f1c2e", "packages": {"torch": "2.13.0", "litellm": "1.82.6"}, "credentials_present": ["AWS_ACCESS_KEY_ID"]}' > train.json
echo '{"channel": "internal-eval", "approved_by": "safety-review"}' > release.json
chainproof attest --key vendor.pem --type https://chainproof.dev/hop/ingest/v1 \
    --subject "transcripts=sha256:$dataset" --predicate ingest.json --out ingest.dsse
chainproof attest --key annotator-17.pem --type https://chainproof.dev/hop/annotate/v1 \
    --subject "labels=sha256:$labels" --predicate annotate.json --out annotate.dsse
chainproof attest --key trainer-ci.pem --type https://chainproof.dev/hop/train/v1 \
    --subject "model-42=sha256:$model" --predicate train.json --out train.dsse
chainproof attest --key release-bot.pem --type https://chainproof.dev/hop/release/v1 \
    --subject "model-42=sha256:$model" --predicate release.json --out release.dsse
chainproof log append ingest.dsse annotate.dsse train.dsse
chainproof log append release.dsse
echo "(the release bot's CI job retries: the same envelope again)"
chainproof log append release.dsse
echo "(an envelope the log already holds keeps its index: a retry can never record a hop twice)"

step "4. The partner saves today's signed checkpoint"
chainproof log checkpoint | tee saved-checkpoint.txt
chainproof verify-note saved-checkpoint.txt --vkey "$vkey" > /dev/null && echo "checkpoint signature verifies"

step "5. Anyone can prove the release is in the log, against the signed checkpoint"
release_index=$(chainproof log info --json | json '["tree_size"] - 1')
chainproof log prove "$release_index" --json > release-proof.json
chainproof verify-proof release-proof.json --checkpoint saved-checkpoint.txt --vkey "$vkey"

step "6. The contractor's laptop ran a compromised package: revoke the key"
chainproof key revoke annotator-17 --reason "credentials stolen by a malicious package"
chainproof attest --key annotator-17.pem --type https://chainproof.dev/hop/annotate/v1 \
    --subject "labels=sha256:$(sha forged)" --predicate annotate.json --out forged.dsse
if chainproof log append forged.dsse; then echo "UNEXPECTED: a revoked key was accepted"; exit 1; fi
echo "(rejected, as it must be)"

step "7. The log grew; it still extends the partner's saved checkpoint"
old_size=$(sed -n 2p saved-checkpoint.txt)
chainproof log consistency "$old_size" --json > consistency.json
chainproof log checkpoint > latest-checkpoint.txt
chainproof verify-proof consistency.json --old-checkpoint saved-checkpoint.txt \
    --checkpoint latest-checkpoint.txt --vkey "$vkey"

step "8. An auditor checks the exported log offline, trusting only the verifier key"
chainproof log export custody.export
chainproof audit --export custody.export --vkey "$vkey" --checkpoint saved-checkpoint.txt

step "9. Someone edits one byte of the training record: the audit names the entry"
train_index=7   # genesis, four key registrations, ingest, annotate, then train
chainproof log get "$train_index" --raw > train.leaf
python3 - <<'EOF2'
data = bytearray(open("custody.export", "rb").read())
at = data.index(open("train.leaf", "rb").read()) + 120   # a byte inside the signed payload
data[at] ^= 0x01
open("forged.export", "wb").write(bytes(data))
EOF2
if chainproof audit --export forged.export --vkey "$vkey"; then echo "UNEXPECTED: forgery passed"; exit 1; fi
echo "(one flipped byte, four problems: entry 7 no longer hashes to its leaf and its signature no"
echo " longer verifies; and every signed checkpoint that covers entry 7 no longer matches the tree)"

step "10. The dependency guard: a training box with a LiteLLM-1.82.8-style startup hook"
python3 -m venv --without-pip trainbox
python3 - <<'EOF3'
# A harmless replica of litellm 1.82.8: a .pth startup hook that would decode and run a payload
# at every Python start. The payload only writes a canary file; the guard never runs it.
import base64, glob, hashlib, os
site = glob.glob("trainbox/lib/python3*/site-packages")[0]
payload = "open('canary-fired', 'w').write('the hook ran')\n"
hook = ("import os, subprocess, sys; subprocess.Popen([sys.executable, '-c', "
        f"\"import base64; exec(base64.b64decode('{base64.b64encode(payload.encode()).decode()}'))\"])\n")
files = {"litellm/__init__.py": "__version__ = '1.82.8'\n", "litellm_init.pth": hook}
dist = "litellm-1.82.8.dist-info"
os.makedirs(f"{site}/litellm", exist_ok=True)
os.makedirs(f"{site}/{dist}", exist_ok=True)
files[f"{dist}/METADATA"] = "Metadata-Version: 2.1\nName: litellm\nVersion: 1.82.8\n"
files[f"{dist}/INSTALLER"] = "pip\n"
record = []
for rel, text in files.items():
    open(f"{site}/{rel}", "w").write(text)
    digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
    record.append(f"{rel},sha256={digest},{len(text.encode())}")
open(f"{site}/{dist}/RECORD", "w").write("\n".join(record + [f"{dist}/RECORD,,"]) + "\n")
EOF3
# One scan: the table on the terminal, and the same findings as JSON, SARIF (for code-scanning
# dashboards) and a CycloneDX SBOM, written once the scan is done.
if chainproof deps scan trainbox --report json=trainbox-scan.json --report sarif=trainbox-scan.sarif \
    --report cyclonedx=trainbox-sbom.cdx.json; then
    echo "UNEXPECTED: the replica passed"; exit 1
fi
echo "(exit 1: findings at --fail-on high or worse; reports in trainbox-scan.json, .sarif and trainbox-sbom.cdx.json)"
test ! -e canary-fired && echo "the payload never ran: scanning reads, it does not execute"

step "11. The scan itself goes into the custody log, signed by CI"
scan_digest=$(sha256sum trainbox-scan.json | cut -d' ' -f1)
python3 -c "import json; d = json.load(open('trainbox-scan.json')); print(json.dumps({'summary': d['summary'], 'advisories': sorted({f['advisory']['id'] for f in d['findings'] if f['advisory']})}))" > scan-predicate.json
chainproof attest --key trainer-ci.pem --type https://chainproof.dev/hop/dependency-scan/v1 \
    --subject "trainbox-scan.json=sha256:$scan_digest" --predicate scan-predicate.json --out scan.dsse
chainproof log append scan.dsse

step "12. The next install goes through the gate: the same replica, as a wheel, never lands"
python3 -m venv nextbox
python3 - <<'EOF4'
# The replica packaged as the wheel an attacker would upload (no index here: a local wheelhouse).
import base64, hashlib, os, zipfile
site = "trainbox/lib/" + os.listdir("trainbox/lib")[0] + "/site-packages"
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
EOF4
if PIP_CONFIG_FILE=/dev/null chainproof pip --python nextbox/bin/python install --no-index --find-links wheelhouse litellm==1.82.8; then
    echo "UNEXPECTED: the gate let the replica in"; exit 1
fi
ls nextbox/lib/python3*/site-packages | grep -q litellm && { echo "UNEXPECTED: litellm was installed"; exit 1; }
test ! -e canary-fired && echo "blocked before install: nothing was installed and the payload never ran"

step "Done. Everything is in $work"
