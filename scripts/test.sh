#!/usr/bin/env bash
# Installs what is missing, builds (gcc and clang -Wthread-safety), and runs
# every test: unit tests under both compilers, then the integration suite.
set -euo pipefail
cd "$(dirname "$0")/.."
TF_CLANG=1 scripts/setup.sh

echo "==> unit tests (clang -Wthread-safety build)"
ctest --test-dir build-clang -L unit --output-on-failure -j2 --timeout 300 >build-clang/ctest.log 2>&1 || {
  cat build-clang/ctest.log; exit 1; }
tail -n 3 build-clang/ctest.log

echo "==> all tests (gcc build)"
ctest --test-dir build --output-on-failure -j2 --timeout 600
