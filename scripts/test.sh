#!/usr/bin/env bash
# Installs what is missing, builds (gcc and clang -Wthread-safety), and runs
# every test: unit tests under both compilers, then the integration suite.
# Prints each stage's time and a summary line at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

times=()
stage_start=$SECONDS
# Records the time of the stage that just ended as "<name> <seconds>s".
stage_done() {
  times+=("$1 $((SECONDS - stage_start))s")
  echo "    ($1: $((SECONDS - stage_start)) s)"
  stage_start=$SECONDS
}

TF_CLANG=1 scripts/setup.sh
stage_done "setup+builds"

echo "==> unit tests (clang -Wthread-safety build)"
ctest --test-dir build-clang -L unit --output-on-failure -j2 --timeout 300 >build-clang/ctest.log 2>&1 || {
  cat build-clang/ctest.log; exit 1; }
tail -n 3 build-clang/ctest.log
stage_done "clang-unit"

echo "==> all tests (gcc build)"
ctest --test-dir build --output-on-failure -j2 --timeout 600
stage_done "gcc-ctest"

echo "==> integration suite, direct mode (tfctl cluster up on loopback)"
PYTHONPATH="$PWD/build/python:$PWD/client/python" TF_BUILD_DIR="$PWD/build" \
  /usr/bin/python3 -m pytest -q -p no:cacheprovider client/python integration/tests
stage_done "pytest-direct"

echo "==> integration suite under docker-compose"
scripts/compose_test.sh
stage_done "pytest-compose"

echo "stage times: ${times[*]} (total $SECONDS s)"
# Every stage above stops the script on failure, so reaching here means all
# four test stages passed: clang unit tests, gcc ctest, pytest direct,
# pytest compose.
echo "stages: 4 passed, 0 failed"
