#!/usr/bin/env bash
# Set up from a fresh clone: a virtualenv on Python >= 3.12 with the project's pinned packages.
#   scripts/bootstrap.sh          the app and the sandbox
#   scripts/bootstrap.sh test     plus what the tests need (pytest, Playwright, Chromium, Redis)
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=${1:-}

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3 \
      "$(pyenv prefix 3.13 2>/dev/null)/bin/python3" "$(pyenv prefix 3.12 2>/dev/null)/bin/python3"; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || [ -x "$candidate" ] || continue
    if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
  if ! py=$(find_python); then
    echo "Agent Inbox needs Python 3.12 or newer (Django 6), and none was found." >&2
    echo "Install one (e.g. 'pyenv install 3.13') or point PYTHON=/path/to/python3.12 at it." >&2
    exit 1
  fi
  echo "==> Creating .venv with $("$py" --version)"
  rm -rf .venv
  "$py" -m venv .venv
fi

extras="."
stamp=".venv/.installed-app"
if [ "$want_test" = "test" ]; then extras=".[test]"; stamp=".venv/.installed-test"; fi
# A test install includes the app's packages: it satisfies a plain `make run` too.
if [ -z "$want_test" ] && [ -f .venv/.installed-test ] && [ .venv/.installed-test -nt pyproject.toml ]; then
  stamp=.venv/.installed-test
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "==> Installing packages ($extras)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e "$extras"
  touch "$stamp"
fi

if [ "$want_test" = "test" ]; then
  missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> Installing ${missing[*]} from Debian's packages"
    sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi
mkdir -p var
