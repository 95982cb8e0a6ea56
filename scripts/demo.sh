#!/usr/bin/env bash
# Installs what is missing, builds, and runs the main job: a development PKI
# for two trust domains, verified with the openssl CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

out="${TF_DEMO_DIR:-out/demo}"
echo "==> tfctl pki init --domains contoso.test,fabrikam.test --out $out"
build/client/tfctl pki init --domains contoso.test,fabrikam.test --out "$out" --force
echo "==> checking every node certificate with openssl verify"
for domain in contoso.test fabrikam.test; do
  for leaf in "$out/$domain"/{control1,registrar1,fe1,edge1,admin1}.crt; do
    openssl verify -CAfile "$out/$domain/root.crt" -untrusted "$out/$domain/intermediate.crt" "$leaf"
  done
done
