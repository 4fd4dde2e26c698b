# gowhisk — make help lists the targets.

GO        ?= go
BIN       := bin/gowhisk
FUZZTIME  ?= 10s
# Arguments for `make run`, e.g. make run ARGS='--port 3234 --data-dir /tmp/gw'
ARGS      ?=
POUCHDB_SERVER := $(CURDIR)/test/integration/node_modules/pouchdb-server/bin/pouchdb-server
# npm ci writes this file; it is older than the lock when the lock changed
NPM_STAMP      := test/integration/node_modules/.package-lock.json

.DEFAULT_GOAL := help
.PHONY: help build run test test-integration fuzz lint clean

help: ## List the targets
	@echo "gowhisk make targets:"
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-18s %s\n", $$1, $$2}'

build: ## Build the server binary into bin/gowhisk
	$(GO) build -o $(BIN) ./cmd/gowhisk

run: build ## Build and run `gowhisk standalone` on 127.0.0.1:3233 (data in ~/.gowhisk; ARGS=... adds flags)
	./$(BIN) standalone $(ARGS)

test: ## Unit and end-to-end tests (needs only Go, node and python)
	$(GO) test -race -count=1 ./...

$(NPM_STAMP): test/integration/package.json test/integration/package-lock.json
	npm ci --prefix test/integration --no-audit --no-fund
	touch $@

test-integration: $(NPM_STAMP) ## Integration tests against real services (installs pouchdb-server and the official JS client from npm)
	GOWHISK_POUCHDB_SERVER=$(POUCHDB_SERVER) $(GO) test -tags integration -count=1 ./...

fuzz: ## Run every Fuzz target for FUZZTIME each (default 10s)
	@set -e; \
	targets=$$(grep -rEo --include='*_test.go' --exclude-dir=node_modules '^func Fuzz[A-Za-z0-9_]*\([A-Za-z_][A-Za-z0-9_]* \*testing\.F\)' . | sed -E 's/^(.*)\/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*/\1 \2/' | sort -u); \
	if [ -z "$$targets" ]; then echo "no fuzz targets found"; exit 0; fi; \
	echo "$$targets" | while read -r dir name; do \
		echo "== fuzz $$name in $$dir for $(FUZZTIME)"; \
		if $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$dir; then continue; fi; \
		if [ -n "$$(git status --porcelain -- $$dir/testdata/fuzz/$$name 2>/dev/null)" ]; then \
			echo "fuzz $$name found a failing input (see $$dir/testdata/fuzz/$$name)"; exit 1; fi; \
		echo "== fuzz $$name stopped without a failing input (the fuzzing engine on a loaded machine); once more"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$dir || exit 1; \
	done

lint: ## gofmt (must list no file) and go vet
	@out=$$(find . -name '*.go' -not -path '*/node_modules/*' -not -path './.git/*' -print0 | xargs -0 gofmt -l); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean: ## Remove build output and test caches
	rm -rf bin
	$(GO) clean -testcache

# --- Distributed mode quick start (deploy/compose) --------------------------
# COMPOSE is `docker compose` (the v2 plugin) when present, else Debian's
# `docker-compose`; COMPOSE_PROJECT names the stack's containers and volumes.
COMPOSE_FILE    := deploy/compose/docker-compose.yml
COMPOSE_PROJECT ?= gowhisk
COMPOSE         ?= $(shell docker compose version >/dev/null 2>&1 && echo 'docker compose' || echo docker-compose)
COMPOSE_CMD      = $(COMPOSE) -f $(COMPOSE_FILE) -p $(COMPOSE_PROJECT)
# Debian's python3 (with python3-yaml, a dependency of its docker-compose),
# not a pyenv shim that may lack PyYAML.
COMPOSE_PYTHON  ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)

.PHONY: compose-config compose-images compose-up compose-down

compose-config: build ## Validate deploy/compose/docker-compose.yml (no daemon needed): schema, runtime images, GOWHISK_* names
	$(COMPOSE_CMD) config -q
	$(COMPOSE_CMD) --profile runtimes config -q
	$(COMPOSE_PYTHON) deploy/compose/check.py $(BIN) $(COMPOSE_CMD)

compose-images: ## Build bin/actionproxy (static) and the runtime images of runtimes.json (needs Docker)
	CGO_ENABLED=0 GOOS=linux $(GO) build -trimpath -ldflags='-s -w' -o bin/actionproxy ./cmd/actionproxy
	$(COMPOSE_CMD) --profile runtimes build runtime-nodejs runtime-python runtime-dockerskeleton

compose-up: compose-images ## Start the docker-compose stack: CouchDB, Kafka, a controller on 127.0.0.1:3233, two invokers
	$(COMPOSE_CMD) up -d --build

compose-down: ## Stop and remove the docker-compose stack (CouchDB's volume stays; add -v by hand to drop it)
	$(COMPOSE_CMD) down --remove-orphans

.PHONY: bench bench-quick
bench: ## Benchmarks of issue 6 (under 5 minutes): table on stdout, figures in bin/bench.json and bin/bench.md
	@mkdir -p bin
	$(GO) run ./test/bench -json bin/bench.json -md bin/bench.md

bench-quick: ## Smoke run of every benchmark scenario (under a minute); checks only that each produced numbers
	@mkdir -p bin
	$(GO) run ./test/bench -quick -json bin/bench-quick.json
