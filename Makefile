# mtdlab: `make demo` starts the demo lab, `make test` runs every test (unit and real-engine).
SHELL := /bin/bash
PY := .venv/bin/python
COMPOSE := $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
DEMO_PORT ?= 8080
DASHBOARD_PORT ?= 8090

.PHONY: help images demo watch down bench-class bench-swarm demo-verify test unit integration bench bench-hops bench-held bench-load bench-many bench-max coverage run sweep reports clean
SCENARIOS := static seed003-baseline fast-exponential uniform timing-T3 timing-T4 timing-T5 keyed-skew banner-modes sapp flood

help:
	@echo "make demo         build the images and start the demo lab on http://127.0.0.1:$(DEMO_PORT)/, live view on :$(DASHBOARD_PORT)"
	@echo "make watch RUN=D  replay a finished run folder in the live view (SPEED=10 for ten times real time)"
	@echo "make down         remove the demo lab (containers, networks, volume)"
	@echo "make demo-verify  3-minute measured demo run: hops, legitimate client, sweeps vs truth"
	@echo "make test         unit and integration tests (real Docker engine)"
	@echo "make bench        every bench below, about 45 min (JSON in bench/results/)"
	@echo "  bench-hops      hop latency per phase, schedule error, proxied vs direct latency"
	@echo "  bench-held      a Redis, an HTTP keep-alive and an SSH connection held through 20+ hops each"
	@echo "  bench-load      every service hopping each second under 200 proxied requests/s, 10 min"
	@echo "  bench-many      50 services hopping at a 5 s mean, 10 min: controller CPU, failures"
	@echo "  bench-max       the most services a 1 s mean holds, and serves without a failure (1-16 services, 150 s each)"
	@echo "make bench-class  how many team labs this machine holds side by side (JSON)"
	@echo "make bench-swarm  the same 5-team class on the local engine and on a one-node Swarm (JSON)"
	@echo "make coverage     simulate 1000 runs per law (no Docker): do the 95% intervals hold? (runs/coverage.json)"
	@echo "make run S=NAME   run scenarios/NAME.yaml; report in runs/NAME-TIMESTAMP/report.html"
	@echo "make sweep S=NAME run sweeps/NAME.yaml (resumable); report in runs/sweep-NAME/sweep.html"
	@echo "make reports      run every shipped scenario (about 60 min); index in runs/reports/index.html"

.venv/stamp: pyproject.toml
	python3 -m venv .venv
	.venv/bin/pip install -q --upgrade pip
	.venv/bin/pip install -q -e '.[test]'
	touch $@

images:
	images/build

demo: images down
	@mkdir -p runs/demo && rm -rf runs/demo/* && mkdir -p runs/demo/attacker/xml runs/demo/users && echo "runs/demo: truth log and attacker logs of this demo"
	@umask 077 && for k in console redis; do python3 -c 'import secrets; print(secrets.token_hex(32))' > runs/demo/$$k.key; done
	MTDLAB_UID=$$(id -u) MTDLAB_GID=$$(id -g) MTDLAB_UMASK=$$(umask) MTDLAB_REDIS_PASSWORD=$$(cat runs/demo/redis.key) \
	  MTDLAB_WEB_PORT=$(DEMO_PORT) MTDLAB_DASHBOARD_PORT=$(DASHBOARD_PORT) MTDLAB_CONSOLE_KEY=$$(cat runs/demo/console.key) $(COMPOSE) up -d
	@python3 -m mtdlab.contract.wait http://127.0.0.1:$(DEMO_PORT)/ 90
	@python3 -m mtdlab.contract.wait http://127.0.0.1:$(DASHBOARD_PORT)/healthz 30
	@echo
	@echo "mtdlab demo is up:   http://127.0.0.1:$(DEMO_PORT)/  (ssh on 127.0.0.1:2222, redis on 127.0.0.1:16379, AUTH with runs/demo/redis.key)"
	@echo "live view:           http://127.0.0.1:$(DASHBOARD_PORT)/   (truth against the attacker's picture; metrics at /metrics)"
	@echo "raw logs:            tail -f runs/demo/truth.jsonl   or   $(COMPOSE) logs -f controller attacker"
	@echo "console:             .venv/bin/mtdlab console map   (signed with runs/demo/console.key; make test creates .venv)"
	@echo "tear down:           make down"

watch: .venv/stamp
	$(PY) -m mtdlab.host.cli watch $(RUN) --speed $(or $(SPEED),1)

# Graceful first (the controller removes the instances it started), then anything labelled.
down:
	-@$(COMPOSE) stop -t 60 controller 2>/dev/null
	@docker ps -aq --filter label=mtdlab.lab=mtdlab | xargs -r docker rm -f >/dev/null
	@$(COMPOSE) down -v --remove-orphans 2>&1 | grep -v '^Network .* not found' || true

demo-verify: .venv/stamp demo
	$(PY) -m mtdlab.host.cli load http://127.0.0.1:$(DEMO_PORT)/ --rate 25 --duration 180 --out runs/demo/legit.jsonl
	$(PY) -m mtdlab.host.cli check runs/demo --min-hops 10

test: .venv/stamp images
	$(PY) -m pytest -v -p no:cacheprovider tests

unit: .venv/stamp
	$(PY) -m pytest -v -p no:cacheprovider -m "not integration" tests

integration: .venv/stamp images
	$(PY) -m pytest -v -p no:cacheprovider -m integration tests

# Every figure of bench/results/: about 45 minutes (two of the runs last 10 minutes each).
bench: bench-hops bench-held bench-load bench-many bench-max

bench-hops: .venv/stamp images
	$(PY) bench/hops.py --out bench/results/hops.json

bench-held: .venv/stamp images
	$(PY) bench/held.py --out bench/results/held.json

bench-load: .venv/stamp images
	$(PY) bench/load_hops.py --out bench/results/load-fast-1s.json

bench-many: .venv/stamp images
	$(PY) bench/load_hops.py --many 50 --mean 5 --duration 600 --out bench/results/load-many-50.json

bench-max: .venv/stamp images
	$(PY) bench/load_hops.py --find-max --mean 1 --out bench/results/load-max-1s.json

# Team labs side by side for N = 1, 5, 10, 20 (stops at the first N that cannot start); about 15 min.
bench-class: .venv/stamp images
	$(PY) bench/class_scale.py --out bench/results/class_scale.json

bench-swarm: .venv/stamp images
	$(PY) bench/swarm_class.py --out bench/results/swarm_class.json

coverage: .venv/stamp
	$(PY) -m mtdlab.host.cli coverage --sims 1000 --out runs/coverage.json

run: .venv/stamp images
	$(PY) -m mtdlab.host.cli run scenarios/$(S).yaml $(if $(DURATION),--duration $(DURATION))

# make sweep S=hop-mean: sweeps/S.yaml into runs/sweep-S (again: goes on where it stopped)
sweep: .venv/stamp images
	$(PY) -m mtdlab.host.cli sweep sweeps/$(S).yaml

# Runs one after the other: side by side they would share the two cores and skew each other.
reports: .venv/stamp images
	rm -rf runs/reports && mkdir -p runs/reports
	for s in $(SCENARIOS); do $(PY) -m mtdlab.host.cli run scenarios/$$s.yaml --out runs/reports/$$s || exit 1; done
	$(PY) -m mtdlab.host.cli compare $(addprefix runs/reports/,$(SCENARIOS)) --out runs/reports/index.html

clean: down
	rm -rf .venv
