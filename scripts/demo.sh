#!/usr/bin/env bash
# Installs what is missing, builds, and runs the main job: a local
# two-domain cluster (contoso.test and fabrikam.test, each a control plane,
# a registrar, a front-end and an edge on loopback, with a generated
# development PKI), a federated message from alice@contoso.test to
# bob@fabrikam.test, and a revocation that refuses the next call on the
# connection that is already open. User tokens are minted with a signed
# outer token, what the front-ends require by default (docs/outer-token.md);
# one step shows the add-in model's unsigned form being refused.
#
# TF_KEEP=1 leaves the cluster running afterwards (stop it with
# build/client/tfctl cluster down --dir out/cluster).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

dir="${TF_DEMO_DIR:-$PWD/out/cluster}"
tfctl="$PWD/build/client/tfctl"
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

if [ -d "$dir/pids" ]; then "$tfctl" cluster down --dir "$dir" >/dev/null 2>&1 || true; fi
rm -rf "$dir"
cleanup() {
  [ -n "${receiver:-}" ] && kill "$receiver" 2>/dev/null || true
  if [ "${TF_KEEP:-0}" != 1 ]; then "$tfctl" cluster down --dir "$dir" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

step "tfctl cluster up: PKI, configs, 8 processes, roots/issuers/peers through the admin API"
"$tfctl" cluster up --dir "$dir"

step "bob@fabrikam.test signs in at fe1.fabrikam.test and waits for messages"
"$tfctl" signin --dir "$dir" --as bob@fabrikam.test
"$tfctl" receive --dir "$dir" --as bob@fabrikam.test --count 2 --timeout 60s >"$dir/bob.txt" 2>&1 &
receiver=$!
sleep 1

step "an unsigned outer token (the add-in model: anyone with the actor token could rewrite the user) is refused"
read -r key cert issuer client realm host < <(/usr/bin/python3 -c "import json
c = json.load(open('$dir/cluster.json'))
d = [d for d in c['domains'] if d['domain'] == 'contoso.test'][0]
a = [a for a in d['apps'] if a['name'] == 'app1'][0]
print(a['key'], a['cert'], a['issuer_id'], a['client_id'], d['realm'], d['frontend']['server_name'])")
"$tfctl" token mint --key "$key" --cert "$cert" --issuer-id "$issuer" --client-id "$client" \
  --realm "$realm" --host "$host" --lifetime 10m --kind user --upn alice@contoso.test \
  >"$dir/alice-unsigned.jwt"
if "$tfctl" signin --dir "$dir" --as alice@contoso.test --token-file "$dir/alice-unsigned.jwt"; then
  echo "unexpected: the unsigned outer token was accepted" >&2
  exit 1
fi

step "alice@contoso.test sends to bob@fabrikam.test (front-end -> edge ==mTLS==> partner edge -> front-end)"
"$tfctl" signin --dir "$dir" --as alice@contoso.test
"$tfctl" send --dir "$dir" --as alice@contoso.test --to bob@fabrikam.test "hello bob, from contoso"
for _ in $(seq 50); do [ -s "$dir/bob.txt" ] && break; sleep 0.1; done
echo "bob received:"
sed 's/^/  /' "$dir/bob.txt"

step "fabrikam revokes contoso's edge certificate (the federation connection stays open)"
# The fingerprint an operator copies: the SHA-256 of the certificate's DER.
# fabrikam's edge accepted that certificate and reported it to its control
# plane, which resolves the hash to the certificate's signed body (so a
# re-encoded copy of the certificate is refused too). The report may still
# be on its way: retry briefly while the control plane does not know it.
sha=$(openssl x509 -in "$dir/pki/contoso.test/edge1.crt" -noout -fingerprint -sha256 | cut -d= -f2)
control=$(/usr/bin/python3 -c "import json; c = json.load(open('$dir/cluster.json')); \
print([s['address'] for s in c['services'] if s['id'] == 'fabrikam.test-control1'][0])")
revoked=0
for _ in $(seq 20); do
  if out=$("$tfctl" revoke --pki "$dir/pki" --domain fabrikam.test --control "$control" \
      --sha256 "$sha" --reason "key compromise" --wait-all 2>&1); then
    echo "$out"
    revoked=1
    break
  fi
  case "$out" in
    *"is not known to the control plane"*) sleep 0.5 ;;
    *) echo "$out" >&2; exit 1 ;;
  esac
done
if [ "$revoked" != 1 ]; then
  echo "$out" >&2
  exit 1
fi
"$tfctl" revoke list --pki "$dir/pki" --domain fabrikam.test --control "$control"

step "alice sends again: the next relay on the open connection is refused (alice learns no host names)"
if "$tfctl" send --dir "$dir" --as alice@contoso.test --to bob@fabrikam.test "this one must not arrive"; then
  echo "unexpected: the message was accepted" >&2
  exit 1
fi
echo "fabrikam's edge logged:"
grep -h "rule=revoked" "$dir/logs/fabrikam.test-edge1.log" | tail -n 1 | sed 's/^/  /'
echo "contoso's front-end logged the detail alice was not told:"
grep -h "send failed" "$dir/logs/contoso.test-fe1.log" | tail -n 1 | sed 's/^/  /'

step "done"
echo "logs: $dir/logs   (TF_KEEP=1 keeps the cluster running)"
