#!/usr/bin/env bash
# Runs the real `tfctl pki init` and checks its output with the openssl CLI,
# an independent verifier: every node and admin chain, both token-signing
# certificates and PKCS#12 files, and the refusal to overwrite.
#
#   tfctl_pki_init_test.sh /path/to/tfctl
set -euo pipefail

tfctl="$1"
work="$(mktemp -d "${TMPDIR:-/tmp}/tfctl-pki-init.XXXXXX")"
trap 'rm -rf "$work"' EXIT
out="$work/pki"

fail() { echo "FAIL: $*" >&2; exit 1; }

# A secret on the command line is refused, naming the replacements.
if "$tfctl" pki init --domains contoso.test --out "$work/refused" --pkcs12-password s3cret \
    2> "$work/refused.txt"; then
  fail "--pkcs12-password was accepted"
fi
grep -q -- "--pkcs12-password-file FILE or the environment variable TF_PKCS12_PASSWORD" \
  "$work/refused.txt" || fail "refusal of --pkcs12-password: $(cat "$work/refused.txt")"
[ ! -e "$work/refused" ] || fail "a refused init wrote files"

TF_PKCS12_PASSWORD=s3cret "$tfctl" pki init --domains contoso.test,fabrikam.test --out "$out" \
  > "$work/summary.txt"
grep -q "spiffe://fabrikam.test/edge/edge1" "$work/summary.txt" || fail "summary lacks edge1"

for domain in contoso.test fabrikam.test; do
  d="$out/$domain"
  for name in control1 registrar1 fe1 edge1 admin1; do
    openssl verify -CAfile "$d/root.crt" -untrusted "$d/intermediate.crt" "$d/$name.crt" \
      > /dev/null || fail "$domain/$name.crt does not verify"
    # The chain file carries leaf and intermediate: a TLS peer sends both.
    [ "$(grep -c 'BEGIN CERTIFICATE' "$d/$name.crt")" = 2 ] || fail "$domain/$name.crt chain"
    openssl x509 -in "$d/$name.crt" -noout -ext subjectAltName | grep -q "DNS:$name.$domain" \
      || fail "$domain/$name.crt lacks its dns san"
    [ "$(stat -c %a "$d/$name.key")" = 600 ] || fail "$domain/$name.key is not 0600"
  done
  # A node certificate must not verify against the other domain's root.
  other=fabrikam.test; [ "$domain" = fabrikam.test ] && other=contoso.test
  if openssl verify -CAfile "$out/$other/root.crt" -untrusted "$d/intermediate.crt" \
      "$d/fe1.crt" > /dev/null 2>&1; then
    fail "$domain/fe1.crt verifies under $other"
  fi
  openssl verify -CAfile "$d/root.crt" "$d/app2.crt" > /dev/null || fail "$domain/app2.crt"
  openssl verify -CAfile "$d/app1.crt" "$d/app1.crt" > /dev/null || fail "$domain/app1.crt"
  for app in app1 app2; do
    openssl pkcs12 -in "$d/$app.p12" -passin pass:s3cret -noout || fail "$domain/$app.p12"
    if openssl pkcs12 -in "$d/$app.p12" -passin pass:wrong -noout 2> /dev/null; then
      fail "$domain/$app.p12 opens with a wrong password"
    fi
  done
done

if "$tfctl" pki init --domains contoso.test --out "$out" 2> "$work/err.txt"; then
  fail "second init without --force succeeded"
fi
grep -q "pass --force to overwrite" "$work/err.txt" || fail "refusal message: $(cat "$work/err.txt")"
"$tfctl" pki init --domains contoso.test --out "$out" --force > /dev/null || fail "--force"
echo "PASS"
