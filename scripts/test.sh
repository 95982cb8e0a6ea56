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

echo "==> integration suite, direct mode (tfctl cluster up on loopback)"
PYTHONPATH="$PWD/build/python:$PWD/client/python" TF_BUILD_DIR="$PWD/build" \
  /usr/bin/python3 -m pytest -q -p no:cacheprovider client/python integration/tests

echo "==> integration suite under docker-compose"
scripts/compose_test.sh

# Every stage above stops the script on failure, so reaching here means all
# four passed: clang unit tests, gcc ctest, pytest direct, pytest compose.
echo "stages: 4 passed, 0 failed"
