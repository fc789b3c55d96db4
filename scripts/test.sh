#!/usr/bin/env bash
# `make test`: set up from a fresh clone and run the whole suite (lint, then pytest).
# Starts the Redis the multi-process tests need on a free loopback port and stops it by pid.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
py=.venv/bin/python

echo "==> Lint (ruff)"
.venv/bin/ruff check .

workdir=$(mktemp -d)
redis_pid=""
cleanup() {
  if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
  rm -rf "$workdir"
}
trap cleanup EXIT
redis_port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$workdir" \
  --daemonize no >"$workdir/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 1 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
export REDIS_TEST_URL="redis://127.0.0.1:$redis_port/0"
export REDIS_REQUIRED=1
export DJANGO_ALLOW_ASYNC_UNSAFE=true

echo "==> Tests (pytest)"
set +e
$py -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure, not a pass." >&2
  exit 1
fi
exit "$status"
