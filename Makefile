# gowhisk — make help lists the targets.

GO        ?= go
BIN       := bin/gowhisk
FUZZTIME  ?= 10s
# Arguments for `make run`, e.g. make run ARGS='--port 3234 --data-dir /tmp/gw'
ARGS      ?=
POUCHDB_SERVER := $(CURDIR)/test/integration/node_modules/pouchdb-server/bin/pouchdb-server

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

$(POUCHDB_SERVER):
	npm ci --prefix test/integration --no-audit --no-fund

test-integration: $(POUCHDB_SERVER) ## Integration tests against real services (installs pouchdb-server from npm)
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
