#!/bin/sh
# Entry point of one cluster service in docker-compose
# (integration/docker-compose.yml): runs its command line with the same
# pid file and log file a local `tfctl cluster up` uses, so the integration
# suite can stop and restart it by pid.
#
#   run_service.sh contoso.test-fe1 tfnode --config DIR/contoso.test/fe1.yaml
#
# A bare binary name (tfnode, tfcontrol) is looked up in TF_BUILD_DIR where
# `tfctl cluster up` looks for it (server/, server/node/, server/control/).
#
# Services run with `pid: host`, so the pid written is the one the tests
# container sees. The suite stops a service by creating
# DIR/pids/<id>.hold and killing the pid: the container exits with an error
# and docker restarts it (restart: on-failure), and this script then waits
# until the hold file is gone before it starts the process again.
set -eu
id=$1
shift
dir=${TF_CLUSTER_DIR:?TF_CLUSTER_DIR is not set}
case $1 in
  */*) ;;
  *)
    for sub in server/control server/node server; do
      if [ -x "${TF_BUILD_DIR:?TF_BUILD_DIR is not set}/$sub/$1" ]; then
        binary=$TF_BUILD_DIR/$sub/$1
        shift
        set -- "$binary" "$@"
        break
      fi
    done
    ;;
esac
[ -x "$1" ] || { echo "run_service.sh: $1 not found in $TF_BUILD_DIR" >&2; exit 127; }
mkdir -p "$dir/pids" "$dir/logs"
while [ -e "$dir/pids/$id.hold" ]; do
  sleep 0.1
done
echo "=== $(date -u +%Y-%m-%dT%H:%M:%SZ) docker-compose start: $*" >>"$dir/logs/$id.log"
echo $$ >"$dir/pids/$id.pid.tmp"
mv "$dir/pids/$id.pid.tmp" "$dir/pids/$id.pid"
exec "$@" >>"$dir/logs/$id.log" 2>&1
