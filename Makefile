# One entry point for everything: `make run` (the offline demo) and `make test` (every check).
# Both set up what they need first; nothing has to be installed by hand.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.13, the Lambda runtime, is what every venv is made with, and `sam build` calls `python3.13` by name
# (the functions' python_pip build, the layers' Makefiles). It is found on PATH, or as pyenv's newest 3.13, or
# named with PYTHON313=/path/to/python3.13; its directory is put first on PATH for the recipes. A target that
# needs it stops with what to install when there is none (`make help` and `make -n` work without it).
PYENV_313 := $(shell pyenv versions --bare 2>/dev/null | grep -E '^3\.13(\.[0-9]+)?$$' | sort -V | tail -1)
PYTHON313 ?= $(shell PYENV_VERSION=$(PYENV_313) python3.13 -c 'import sys; print(sys.executable)' 2>/dev/null)
ifneq ($(PYTHON313),)
export PATH := $(dir $(PYTHON313)):$(PATH)
endif
PYTHON_BOOTSTRAP = $(or $(PYTHON313),$(error Python 3.13 (the Lambda runtime) was not found: install it \
	(pyenv install 3.13, `uv python install 3.13`, or your system's python3.13 package) so that python3.13 is on \
	PATH, or run make PYTHON313=/path/to/python3.13 ...))
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
SECURITY_VENV := .venv-security
export AWS_REGION ?= eu-west-1
export AWS_DEFAULT_REGION ?= $(AWS_REGION)
export SAM_CLI_TELEMETRY := 0
# The shared package ships in a layer (layers/revoker/python); locally it is put on the path the same way.
export PYTHONPATH := $(CURDIR)/layers/revoker/python:$(CURDIR)

.PHONY: help setup lock hooks run serve test lint typecheck unit integration load storm soak coverage template build security \
	checkov audit deploy smoke agents clean

help:
	@echo "make run      - set up, start the offline stack (moto server + Vonage simulator) and revoke messages"
	@echo "make serve    - the API on http://127.0.0.1:3000 over the offline stack, for curl (PORT=... to change;"
	@echo "               SIGV4=check to check signatures as API Gateway does)"
	@echo "  .venv/bin/rcs-revoker --help - the command line client (after any make target; docs/cli.md)"
	@echo "make test     - set up and run every check: lint, types, template, build, security, unit, integration, load"
	@echo "make unit     - the unit tests (seconds), with the coverage floor of UNIT_COVERAGE"
	@echo "make integration / make load - the suites against the offline stack"
	@echo "make storm / make soak - a ten-minute 429 storm; 200 invocations, most SIGKILLed at random"
	@echo "make coverage - the coverage of the three suites combined, against COVERAGE_FLOOR"
	@echo "make lock     - regenerate the locks (*.txt) from their inputs (*.in)"
	@echo "make hooks    - install the pre-commit hooks (.pre-commit-config.yaml) into git"
	@echo "make security - checkov over the template (as written and as SAM transforms it), pip-audit of the dependencies"
	@echo "make build    - sam build (layers for python3.13/arm64)"
	@echo "make deploy   - sam build && sam deploy --guided"
	@echo "make smoke STACK=name - after a deploy: every step of a revocation, against a made-up message"
	@echo "make agents FILE=agents.csv STACK=name - check the agents of a file, write the good ones (TABLE=, CHECK=1)"
	@echo "make bench    - at Lambda's CPU share: cold start, warm path, entry points, memory sizes and cost, vs the official SDK"
	@echo "make bench-bulk - 1,000 revocations through the bulk path (API, queue, worker)"
	@echo "make bench-timers - 500 deferred revocations: how late they fire, and the cost per million"

# Every environment installs from a lock with hashes (`make lock` writes them): pip refuses a file whose hash
# is not in the lock, and a package that is not pinned in it.
PIP_INSTALL := -m pip install --quiet --disable-pip-version-check --require-hashes
RUNTIME_LOCK := layers/dependencies/requirements.txt

# The project's own distribution (pyproject.toml: the client library and the `rcs-revoker` command) goes in
# last, editable and without its dependencies or build isolation: they and its build backend are in the lock.
$(VENV)/.installed: requirements/dev.txt $(RUNTIME_LOCK) pyproject.toml
	test -x $(PY) || $(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(PY) $(PIP_INSTALL) -r requirements/dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation --editable .
	touch $@

$(SAM_VENV)/.installed: requirements/sam.txt
	test -x $(SAM_VENV)/bin/python || $(PYTHON_BOOTSTRAP) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python $(PIP_INSTALL) -r requirements/sam.txt
	touch $@

$(SECURITY_VENV)/.installed: requirements/security.txt
	test -x $(SECURITY_VENV)/bin/python || $(PYTHON_BOOTSTRAP) -m venv $(SECURITY_VENV)
	$(SECURITY_VENV)/bin/python $(PIP_INSTALL) -r requirements/security.txt
	touch $@

setup: $(VENV)/.installed $(SAM_VENV)/.installed $(SECURITY_VENV)/.installed

# `make lock`: the locks, regenerated from the inputs that people edit (the .in files) by uv (in .venv). The
# runtime lock is resolved for the layer (python3.13 on arm64, the wheels layers/dependencies/Makefile installs);
# the others are universal (any platform, Python 3.11+); the dev lock is constrained by the runtime lock, so
# that the tests run on exactly the versions that are deployed. Each lock carries the hashes of every file of
# each pinned release. The pins already in a lock are kept where the inputs allow: to move them all to the
# newest releases, `make lock LOCK_ARGS=--upgrade` (or `--upgrade-package NAME`). Needs the package index.
UV_COMPILE = $(VENV)/bin/uv pip compile --quiet --generate-hashes --custom-compile-command "make lock" $(LOCK_ARGS)
UNIVERSAL := --universal --python-version 3.11
lock: $(VENV)/.installed
	$(UV_COMPILE) --python-version 3.13 --python-platform aarch64-manylinux2014 \
		--output-file $(RUNTIME_LOCK) layers/dependencies/requirements.in
	$(UV_COMPILE) $(UNIVERSAL) --output-file requirements/dev.txt requirements/dev.in
	$(UV_COMPILE) $(UNIVERSAL) --output-file requirements/sam.txt requirements/sam.in
	$(UV_COMPILE) $(UNIVERSAL) --output-file requirements/security.txt requirements/security.in

# `make hooks`: git runs .pre-commit-config.yaml's hooks (ruff, mypy, the unit tests; all from .venv) on commit.
hooks: $(VENV)/.installed
	$(VENV)/bin/pre-commit install

run: $(VENV)/.installed
	$(PY) -m offline.demo

# `make serve`: the API on http://127.0.0.1:$(PORT) with the offline stack behind it (sam local start-api
# without Docker; SigV4 is not checked). Ctrl-C stops everything it started. PORT=0 picks a free port.
# `make serve SIGV4=check`: the SigV4 routes check signatures as API Gateway does (offline/sigv4_check.py), to
# test your own signing code; the credentials accepted are the AWS_* variables', else test ones printed at start.
PORT ?= 3000
SIGV4 ?=
serve: $(VENV)/.installed
	$(PY) -m offline.serve --port $(PORT) $(if $(filter check,$(SIGV4)),--check-sigv4)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

# The test suites: `make unit` (tests/unit: the domain and the adapters with fakes, no server; seconds),
# `make integration` (the handlers in-process against the offline stack, the template, the simulator, the demo,
# the client and CLI; tests/contract when it exists) and `make load`. Each is one pytest run that records branch coverage of the
# shared package, the functions and the offline stack ([tool.coverage.run] in pyproject.toml) in its own data
# file under $(COVERAGE_DIR)/; `make coverage` combines the three (as `make test` does, after running each once)
# and fails under COVERAGE_FLOOR. A suite that collects no test fails (pytest's exit code 5 is kept), so that a
# run with nothing tested is never green. PYTEST_ARGS is passed on, e.g. make integration PYTEST_ARGS=-x (a
# selection made with -k falls under the floors: run .venv/bin/python -m pytest for that).
COVERAGE_DIR := .coverage-data
COVERAGE := $(VENV)/bin/coverage
PYTEST = mkdir -p $(COVERAGE_DIR) && COVERAGE_FILE=$(COVERAGE_DIR)/$@ $(PY) -m pytest --cov --cov-report= $(PYTEST_ARGS)
# tests/client: the rcs-revoker client and CLI, against loopback servers of their own and moto server.
INTEGRATION_TESTS := tests/integration tests/offline tests/infrastructure tests/client $(wildcard tests/contract)
# The whole measured code, the three suites together (branches included). The floor sits just below the figure
# of the last measure (95.5 % with the lifecycle, `make test`; the offline stack's subprocess-only entry points are
# not measured, see pyproject.toml); raise it when the figure rises, never lower it to pass.
COVERAGE_FLOOR := 95
# The packages that the unit tests alone must cover (against the in-memory fakes), at UNIT_COVERAGE_FLOOR.
UNIT_COVERAGE := rcs_revoker.usecases rcs_revoker.domain
UNIT_COVERAGE_FLOOR := 90
comma := ,
UNIT_COVERAGE_PATHS := $(subst $() ,$(comma),$(foreach package,$(UNIT_COVERAGE),layers/revoker/python/$(subst .,/,$(package))/*))

unit: $(VENV)/.installed
	$(PYTEST) tests/unit
	$(COVERAGE) report --data-file=$(COVERAGE_DIR)/unit --include='$(UNIT_COVERAGE_PATHS)' \
		--fail-under=$(UNIT_COVERAGE_FLOOR)

NODE_SNIPPET := docs/snippets/node
integration: $(VENV)/.installed $(SAM_VENV)/.installed $(NODE_SNIPPET)/node_modules/.installed
	$(PYTEST) $(INTEGRATION_TESTS)

# The Node signing snippet of docs/callers.md, run against make serve's SigV4 check by tests/offline/test_serve.py:
# its packages from its lock (npm ci: about 4 s, from the npm registry). Node.js is not a requirement of the
# project: without npm, or when the registry cannot be reached, that one test is skipped and says why.
$(NODE_SNIPPET)/node_modules/.installed: $(NODE_SNIPPET)/package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --prefix $(NODE_SNIPPET) --no-audit --no-fund --loglevel=error && touch $@ \
			|| echo "npm ci failed: the Node snippet's test will be skipped"; \
	else echo "no npm: the Node snippet's test will be skipped"; fi

load: $(VENV)/.installed
	$(PYTEST) tests/load

# The long runs of what `make test` runs short (docs/reliability.md has their figures): a ten-minute Vonage
# rate-limit storm, and a soak of 200 invocations, most of them SIGKILLed at random moments.
storm: $(VENV)/.installed
	STORM_S=600 $(PY) -m pytest -s -p no:cacheprovider tests/integration/test_rate_limit_storm.py

soak: $(VENV)/.installed
	SOAK_PROCESSES=200 $(PY) -m pytest -s -p no:cacheprovider tests/load/test_soak.py

coverage: $(VENV)/.installed
	$(COVERAGE) combine --keep --quiet --data-file=$(COVERAGE_DIR)/total $(addprefix $(COVERAGE_DIR)/,unit integration load)
	$(COVERAGE) report --data-file=$(COVERAGE_DIR)/total --fail-under=$(COVERAGE_FLOOR)

template: $(VENV)/.installed $(SAM_VENV)/.installed
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM) validate --lint --template template.yaml --region $(AWS_REGION)

test: lint typecheck template build security unit integration load coverage

# checkov: each check that does not apply is skipped in template.yaml, on its resource, with the reason.
# The second scan covers what SAM generates (roles, the API's stage and methods). Generated resources carry no
# Metadata, so the stage SAM makes from RevocationApi cannot hold its skip: CKV_AWS_120 (caching) is skipped
# here, for the reason written on RevocationApi. --skip-download: offline, no Prisma Cloud account involved.
CHECKOV := $(SECURITY_VENV)/bin/checkov --framework cloudformation --compact --quiet --skip-download
checkov: $(SECURITY_VENV)/.installed $(SAM_VENV)/.installed
	$(CHECKOV) --file template.yaml
	mkdir -p .aws-sam
	$(SAM_VENV)/bin/python tools/sam_translate.py template.yaml > .aws-sam/translated-template.json
	$(CHECKOV) --file .aws-sam/translated-template.json --skip-check CKV_AWS_120

# pip-audit of the deployed layer (as `make build` leaves it) and of .venv: see tools/audit_dependencies.py.
audit: build $(SECURITY_VENV)/.installed $(VENV)/.installed
	$(SECURITY_VENV)/bin/python tools/audit_dependencies.py $(SECURITY_VENV)/bin/pip-audit $(PY)

security: checkov audit

build: $(SAM_VENV)/.installed
	$(SAM) build --template template.yaml

deploy: build
	$(SAM) deploy --guided

# `make smoke STACK=name`: after a deploy, the deployed stack's every step of a revocation (the secret, the JWT,
# the region's Vonage host) against a made-up message UUID (POST /dry-runs/revoke): nothing revoked, recorded or
# published. With your AWS credentials (execute-api:Invoke, cloudformation:DescribeStacks). SMOKE_ARGS: e.g.
# "--country SG" to prove another region's host (default eu).
# `make agents FILE=agents.csv STACK=<stack>` (or TABLE=<agents table>; CHECK=1 only checks): every record checked,
# each bad one refused with its line, the good ones written (tools/load_agents.py).
agents: $(VENV)/.installed
	@test -n "$(FILE)" || { echo "make agents FILE=agents.csv STACK=<stack> (or TABLE=<agents table>)"; exit 2; }
	$(PY) -m tools.load_agents "$(FILE)" $(if $(STACK),--stack "$(STACK)") $(if $(TABLE),--table "$(TABLE)") \
		$(if $(CHECK),--check)

smoke: $(VENV)/.installed
	@test -n "$(STACK)" || { echo "make smoke needs STACK=<the deployed stack's name>"; exit 2; }
	$(VENV)/bin/rcs-revoker --stack $(STACK) smoke $(SMOKE_ARGS)

clean:
	rm -rf $(VENV) $(SAM_VENV) $(SECURITY_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache $(COVERAGE_DIR)

# `make bench`: this service against a function that uses the official Vonage Python SDK (bench/baseline, in
# its own virtual environment .venv-baseline), at Lambda's CPU share of the template's memory (a cgroup per
# function process, as root; otherwise on a full core, said so): cold start, warm path, each entry point, the
# bulk submit, a row per memory size with its cost, memory and size, in one run (about 9 minutes); the tables
# are printed and bench/results/latest.json written. Options: make bench BENCH_ARGS="--quick" (3 minutes),
# BENCH_ARGS="--memory 512 --memories 256,512,1024 --runs 3 --skip-size".
.venv-baseline/.installed: bench/baseline/requirements.txt
	test -x .venv-baseline/bin/python || $(PYTHON_BOOTSTRAP) -m venv .venv-baseline
	.venv-baseline/bin/python -m pip install --quiet --disable-pip-version-check -r bench/baseline/requirements.txt
	touch $@

.PHONY: bench
bench: $(VENV)/.installed .venv-baseline/.installed
	$(PY) -m bench.run $(BENCH_ARGS)

# `make bench-bulk`: 1,000 revocations through POST /revocations, the queue and the worker, against the
# Vonage simulator answering in 50 ms, each container at the CPU share of the template's memory. Options:
# make bench-bulk BENCH_ARGS="--messages 200 --workers 1 --memory 512".
.PHONY: bench-bulk
bench-bulk: $(VENV)/.installed
	$(PY) -m bench.bulk $(BENCH_ARGS)

# `make bench-timers`: 500 deferred revocations (after_seconds 1..20 s, some `at`) through the API, the timer
# queue and the timer function, then 100 through EventBridge Scheduler's path; how late they fire, and what a
# million cost at list prices from the requests counted. Writes bench/results/timers.md. Takes about a minute.
# Options: make bench-timers BENCH_ARGS="--timers 1000 --latency-ms 100".
.PHONY: bench-timers
bench-timers: $(VENV)/.installed
	$(PY) -m bench.timers $(BENCH_ARGS)
