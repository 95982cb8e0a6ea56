#!/usr/bin/env bash
# Runs the integration suite against the two-domain cluster under
# docker-compose (integration/docker-compose.yml), on this machine's own
# Docker daemon:
#
#   scripts/compose_test.sh                # images (cached), cluster config, compose up, tests
#   scripts/compose_test.sh --images-only  # only install what is missing and build the images
#
# Steps: installs docker.io, docker-compose and debootstrap when missing;
# starts a private dockerd (own socket, pid file and exec root under a temp
# dir, no iptables, no bridge; DOCKER_HOST points at it); builds the base
# image with debootstrap from the machine's own apt mirror unless it is
# cached, then the runtime image (integration/Dockerfile); writes a cluster
# dir with `tfctl cluster config`; runs `docker-compose up
# --abort-on-container-exit --exit-code-from tests`; and always tears it all
# down again (compose down, dockerd stopped by its pid, netns unmounted).
# Exits with the tests' exit code.
#
# Environment:
#   TF_BUILD_DIR      build tree whose binaries are bind-mounted (default build)
#   TF_SUBNET         loopback subnet N (127.N.x.y); default random in 2..250
#   TF_DOCKER_STATE   dockerd data root, kept between runs so images are
#                     cached (default /var/tmp/trustfabric-docker)
#   TF_PYTEST_ARGS    extra pytest arguments for the tests service
#   TF_KEEP_CLUSTER_DIR=1  keep the cluster dir (configs, state, logs) afterwards
set -euo pipefail
cd "$(dirname "$0")/.."
SOURCE_DIR=$PWD

BASE_IMAGE=trustfabric-base:bookworm
RUNTIME_IMAGE=trustfabric-runtime:latest
DOCKER_STATE=${TF_DOCKER_STATE:-/var/tmp/trustfabric-docker}
BUILD_DIR=$(cd "${TF_BUILD_DIR:-build}" && pwd)
IMAGES_ONLY=0
[ "${1:-}" = "--images-only" ] && IMAGES_ONLY=1

log() { echo "==> $*"; }
die() { echo "compose_test: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (it starts its own dockerd)"

install_missing() {
  local missing=() p
  for p in docker.io docker-compose debootstrap; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
}

# Every enabled "deb" entry of the machine's apt sources, one per line:
# "URI SUITE COMPONENT...". Reads both the one-line format
# (/etc/apt/sources.list, *.list) and deb822 (*.sources).
apt_entries() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" {
           i = 2
           if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
           line = $i; for (j = i + 1; j <= NF; j++) line = line " " $j
           print line
         }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'function flush(   n, m, a, b, u, s) {
           if (types ~ /(^| )deb( |$)/ && enabled != "no") {
             n = split(uris, u, " "); m = split(suites, s, " ")
             for (a = 1; a <= n; a++) for (b = 1; b <= m; b++) print u[a] " " s[b] " " comps
           }
           types = uris = suites = comps = ""; enabled = "yes"
         }
         BEGIN { enabled = "yes" }
         /^[ \t]*#/ { next }
         /^[ \t]*$/ { flush(); next }
         /^[ \t]/ { next }
         {
           key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, ""); val = $0
           if (key == "types") types = val
           else if (key == "uris") uris = val
           else if (key == "suites") suites = val
           else if (key == "components") comps = val
           else if (key == "enabled") enabled = tolower(val)
         }
         END { flush() }' "$f"
  done
}

RUN_DIR=""
DOCKERD_PID=""
COMPOSE_UP=0
CLUSTER_DIR=""

compose() {
  docker-compose -f "$SOURCE_DIR/integration/docker-compose.yml" -p "trustfabric$TF_SUBNET" "$@"
}

cleanup() {
  local rc=$?
  set +e
  if [ "$COMPOSE_UP" = 1 ]; then
    log "docker-compose down"
    timeout 120 docker-compose -f "$SOURCE_DIR/integration/docker-compose.yml" \
      -p "trustfabric$TF_SUBNET" down --remove-orphans --timeout 10 >/dev/null 2>&1
  fi
  if [ -n "$DOCKERD_PID" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    log "stopping dockerd (pid $DOCKERD_PID)"
    kill -TERM "$DOCKERD_PID"
    for _ in $(seq 1 300); do
      kill -0 "$DOCKERD_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$DOCKERD_PID" 2>/dev/null && kill -KILL "$DOCKERD_PID"
    wait "$DOCKERD_PID" 2>/dev/null
  fi
  if [ -n "$RUN_DIR" ]; then
    if mountpoint -q "$RUN_DIR/exec/netns/default" 2>/dev/null; then
      umount "$RUN_DIR/exec/netns/default"
    fi
    if [ -n "$(grep -F " $RUN_DIR/" /proc/self/mounts)" ]; then
      echo "compose_test: mounts left under $RUN_DIR; not removing it" >&2
    else
      rm -rf "$RUN_DIR"
    fi
  fi
  if [ -n "$CLUSTER_DIR" ] && [ -d "$CLUSTER_DIR" ] && [ "${TF_KEEP_CLUSTER_DIR:-0}" != 1 ]; then
    rm -rf "$CLUSTER_DIR"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_dockerd() {
  RUN_DIR=$(mktemp -d /tmp/tf-docker.XXXXXX)
  mkdir -p "$DOCKER_STATE/data"
  log "starting dockerd (data root $DOCKER_STATE/data, socket $RUN_DIR/docker.sock)"
  dockerd --iptables=false --ip-forward=false --ip-masq=false --bridge=none \
    --storage-driver=overlay2 --data-root "$DOCKER_STATE/data" --exec-root "$RUN_DIR/exec" \
    --pidfile "$RUN_DIR/dockerd.pid" --host "unix://$RUN_DIR/docker.sock" \
    >"$RUN_DIR/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  export DOCKER_HOST="unix://$RUN_DIR/docker.sock"
  for _ in $(seq 1 300); do
    if docker version >/dev/null 2>&1; then return 0; fi
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 30 "$RUN_DIR/dockerd.log" >&2
  die "dockerd did not become ready"
}

build_base_image() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "base image $BASE_IMAGE: cached"
    return 0
  fi
  local codename mirror rootfs
  codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
  mirror=$(apt_entries | awk -v s="$codename" '$2 == s { print $1; exit }')
  [ -n "$mirror" ] || die "no apt source for suite $codename in /etc/apt/sources.list{,.d}"
  rootfs="$RUN_DIR/rootfs"
  log "building $BASE_IMAGE: debootstrap --variant=minbase $codename from $mirror"
  debootstrap --variant=minbase "$codename" "$rootfs" "$mirror" \
    >"$RUN_DIR/debootstrap.log" 2>&1 || {
    tail -n 30 "$RUN_DIR/debootstrap.log" >&2; die "debootstrap failed"; }
  # The image uses the same archives as this machine (main suite, updates,
  # security), so its libraries match the ones the binaries were built with.
  apt_entries | awk -v s="$codename" '$2 == s || index($2, s "-") == 1 { print "deb " $0 }' \
    >"$rootfs/etc/apt/sources.list"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
}

build_runtime_image() {
  log "building $RUNTIME_IMAGE (integration/Dockerfile)"
  docker build --network host --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$RUNTIME_IMAGE" \
    - <"$SOURCE_DIR/integration/Dockerfile" >"$RUN_DIR/docker-build.log" 2>&1 || {
    tail -n 40 "$RUN_DIR/docker-build.log" >&2; die "docker build failed"; }
}

install_missing
start_dockerd
build_base_image
build_runtime_image
[ "$IMAGES_ONLY" = 1 ] && exit 0

# Where `tfctl cluster up` (and integration/run_service.sh) look for them.
find_binary() {
  local sub
  for sub in client server/control server/node server; do
    [ -x "$BUILD_DIR/$sub/$1" ] && return 0
  done
  die "$1 is missing under $BUILD_DIR: build first (scripts/setup.sh)"
}
for b in tfctl tfnode tfcontrol; do find_binary "$b"; done
[ -f "$BUILD_DIR/python/trustfabric/v1/node_pb2.py" ] || die "$BUILD_DIR/python is missing"

TF_SUBNET=${TF_SUBNET:-$(( (RANDOM % 249) + 2 ))}
CLUSTER_DIR=$(mktemp -d /tmp/tf-compose-cluster.XXXXXX)
log "tfctl cluster config --dir $CLUSTER_DIR --subnet $TF_SUBNET"
"$BUILD_DIR/client/tfctl" cluster config --dir "$CLUSTER_DIR" --subnet "$TF_SUBNET" >/dev/null

export TF_SUBNET TF_CLUSTER_DIR="$CLUSTER_DIR" TF_BUILD_DIR="$BUILD_DIR" \
  TF_SOURCE_DIR="$SOURCE_DIR" TF_IMAGE="$RUNTIME_IMAGE" TF_PYTEST_ARGS="${TF_PYTEST_ARGS:-}"
log "docker-compose up (subnet 127.$TF_SUBNET.0.0/16)"
COMPOSE_UP=1
started=$(date +%s)
set +e
compose up --no-build --no-color --abort-on-container-exit --exit-code-from tests
rc=$?
set -e
log "compose run took $(( $(date +%s) - started )) s, tests exit code $rc"
if [ "$rc" -ne 0 ]; then
  echo "--- container output (all but tests) ---" >&2
  compose logs --no-color --tail=50 2>&1 | grep -v '^tests' | tail -n 100 >&2 || true
  for f in "$CLUSTER_DIR"/logs/*.log; do
    [ -f "$f" ] || continue
    echo "--- last lines of $f ---" >&2
    tail -n 15 "$f" >&2
  done
fi
exit "$rc"
