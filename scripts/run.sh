#!/usr/bin/env bash
# `make run`: the sandbox (seeded) on SANDBOX_PORT and the app on APP_PORT, development mode.
# Ctrl-C stops both. SIMULATE=1 also drives team activity in the sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."
APP_PORT=${APP_PORT:-8000}
SANDBOX_PORT=${SANDBOX_PORT:-8001}
SIMULATE=${SIMULATE:-0}
scripts/bootstrap.sh

export SANDBOX_DB=${SANDBOX_DB:-$PWD/var/sandbox.sqlite3}
# The demo account needs a product area before a ticket can be solved, as many teams' do.
export SANDBOX_REQUIRED_TO_SOLVE=${SANDBOX_REQUIRED_TO_SOLVE:-360000300001}
py=.venv/bin/python

echo "==> Preparing the sandbox (a Zendesk look-alike) in $SANDBOX_DB"
$py -m sandbox migrate --no-input >/dev/null
$py -m sandbox seed

# The app's dev settings, pointed at the sandbox explicitly (never a silent default).
[ -f var/dev-token-key ] || $py -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())' > var/dev-token-key
export DEBUG=true
export SECRET_KEY=${SECRET_KEY:-dev-only-$(cat var/dev-token-key)}
export ZENDESK_URL=http://127.0.0.1:$SANDBOX_PORT
export ZENDESK_OAUTH_CLIENT_ID=agent-inbox-demo
export ZENDESK_OAUTH_CLIENT_SECRET=agent-inbox-demo-secret
export TOKEN_ENCRYPTION_KEYS=$(cat var/dev-token-key)
export ALLOWED_HOSTS=127.0.0.1,localhost
# Ticket changes made in the sandbox reach the app as signed webhooks (registered below).
[ -f var/dev-webhook-secret ] || $py -c 'import secrets; print(secrets.token_urlsafe(32))' > var/dev-webhook-secret
export ZENDESK_WEBHOOK_SECRET=$(cat var/dev-webhook-secret)
echo "==> Preparing the app database"
$py manage.py migrate --no-input >/dev/null

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo "==> Stopping"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

$py -m gunicorn sandbox.wsgi --config python:sandbox.gunicorn_conf --bind "127.0.0.1:$SANDBOX_PORT" --workers 1 --threads 16 \
  --worker-class gthread --timeout 120 --log-level warning &
pids+=($!)
$py manage.py runserver "127.0.0.1:$APP_PORT" --noreload &
pids+=($!)

for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$SANDBOX_PORT/_sandbox/" >/dev/null 2>&1 && break
  sleep 0.1
done
info=$(curl -fsS "http://127.0.0.1:$SANDBOX_PORT/_sandbox/")
# Register the app's receiver with the sandbox, as an admin creates a webhook in Zendesk.
$py - "$SANDBOX_PORT" "$APP_PORT" <<'PY'
import json, os, sys, urllib.request
sandbox_port, app_port = sys.argv[1], sys.argv[2]
config = {
    "url": f"http://127.0.0.1:{app_port}/webhooks/zendesk",
    "secret": os.environ["ZENDESK_WEBHOOK_SECRET"],
}
request = urllib.request.Request(
    f"http://127.0.0.1:{sandbox_port}/_sandbox/webhooks",
    data=json.dumps(config).encode(),
    headers={"Content-Type": "application/json"},
    method="POST",
)
with urllib.request.urlopen(request, timeout=10) as answer:
    answer.read()
print(f"==> Ticket changes in the sandbox are sent to {config['url']} (signed webhooks)")
PY
$py - "$info" "$APP_PORT" "$SANDBOX_PORT" <<'PY'
import json, sys
info, app_port, sandbox_port = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
agents = [a for a in info["agents"] if not a.get("suspended")]
print()
print(f"  Agent Inbox      http://127.0.0.1:{app_port}/")
print(f"  Sandbox Zendesk  http://127.0.0.1:{sandbox_port}/_sandbox/")
print()
print("  Sign in with Zendesk as any seeded agent, with the demo password "
      f"'{info.get('demo_password', 'demo-password')}':")
for agent in agents[:6]:
    note = " (restricted)" if agent.get("restricted") else ""
    print(f"    {agent['email']:<36} {agent['role']}{note}")
print()
print("  Ctrl-C stops both servers.")
PY

if [ "$SIMULATE" = "1" ]; then
  echo "==> Simulating team activity (SIMULATE=1)"
  $py -m sandbox simulate --rate "${SIMULATE_RATE:-12}" &
  pids+=($!)
fi
wait -n "${pids[@]}"
