#!/usr/bin/env bash
# `make test`: set up from a fresh clone and run the whole suite (lint, then pytest).
# Starts what the tests need on free loopback ports and stops them by pid: Redis (the shared
# cache of the multi-process tests) and PostgreSQL (the app's production database; the app's
# tests run on it, the sandbox keeps its SQLite file).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
py=.venv/bin/python

echo "==> Lint (ruff check, ruff format --check)"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

workdir=$(mktemp -d)
redis_pid=""
pg_pid=""
free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
cleanup() {
  if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
  if [ -n "$pg_pid" ]; then kill -INT "$pg_pid" 2>/dev/null || true; for _ in $(seq 1 50); do kill -0 "$pg_pid" 2>/dev/null || break; sleep 0.1; done; fi
  rm -rf "$workdir"
}
trap cleanup EXIT
chmod 755 "$workdir"

pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pg_port=$(free_port)
mkdir -p "$workdir/pg"
[ "$(id -u)" -ne 0 ] || chown postgres "$workdir/pg"
as_pg "$pg_bin/initdb -D $workdir/pg/data -U postgres --auth=trust -E UTF8" >/dev/null
as_pg "$pg_bin/pg_ctl -D $workdir/pg/data -l $workdir/pg/log -w start -o '-p $pg_port -k $workdir/pg -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off'" >/dev/null
pg_pid=$(head -1 "$workdir/pg/data/postmaster.pid")
export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/inbox"

redis_port=$(free_port)
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
