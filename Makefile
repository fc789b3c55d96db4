# The front door. A fresh clone needs only `make run` (the demo) and `make test` (the suite).
.PHONY: run test screenshots sandbox lint format bench bench-inbox bench-team

APP_PORT ?= 8000
SANDBOX_PORT ?= 8001
export APP_PORT SANDBOX_PORT

run:            ## set up, then the seeded sandbox on :8001 and the app on :8000 (SIMULATE=1 for live activity)
	@scripts/run.sh

test:           ## set up (venv, packages, Chromium, Redis) and run the whole suite
	@scripts/test.sh

screenshots:    ## refresh the README's screenshots in docs/screenshots/ from the browser tests
	@UPDATE_SCREENSHOTS=1 scripts/test.sh -m browser -k screenshot

sandbox:        ## the sandbox alone, seeded, on SANDBOX_PORT
	@scripts/bootstrap.sh
	@SANDBOX_DB=$${SANDBOX_DB:-$$PWD/var/sandbox.sqlite3} .venv/bin/python -m sandbox migrate --no-input >/dev/null
	@SANDBOX_DB=$${SANDBOX_DB:-$$PWD/var/sandbox.sqlite3} .venv/bin/python -m sandbox seed
	@echo "Sandbox on http://127.0.0.1:$(SANDBOX_PORT)/_sandbox/ (Ctrl-C stops it)"
	@SANDBOX_DB=$${SANDBOX_DB:-$$PWD/var/sandbox.sqlite3} .venv/bin/python -m gunicorn sandbox.wsgi --config python:sandbox.gunicorn_conf \
	  --bind 127.0.0.1:$(SANDBOX_PORT) --workers 1 --threads 16 --worker-class gthread --timeout 120

bench:          ## measure what the cache, single flight and shared budget save a team (~30 s; BENCH_ARGS="--agents 20")
	@scripts/bootstrap.sh test
	@.venv/bin/python benchmarks/team_load.py $(BENCH_ARGS)

bench-inbox:    ## the inbox page's and the poll's latency from cache beside a trivial view, and its bytes (~1 min)
	@scripts/bootstrap.sh test
	@.venv/bin/python benchmarks/inbox_latency.py $(BENCH_ARGS)

bench-team:     ## the team through its pages: PostgreSQL, Redis, the app under gunicorn, 50 browsers (~12 min; BENCH_ARGS="--sweep --minutes 1")
	@scripts/bootstrap.sh test
	@.venv/bin/python benchmarks/team_pages.py $(BENCH_ARGS)

lint:
	@.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	@.venv/bin/ruff format . && .venv/bin/ruff check --fix .
