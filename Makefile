# sqlvault — every set-up step lives here, so a fresh clone needs only `make run` or `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

GO            ?= go
TEMPORAL_CLI  := v1.5.1
BIN           := $(CURDIR)/bin
TEMPORAL      := $(BIN)/temporal
WORKFLOWCHECK := $(BIN)/workflowcheck
WORKFLOWCHECK_VERSION := v0.6.0
AZURITE       := node_modules/.bin/azurite-blob
GOTEST_FLAGS  ?= -count=1 -timeout 25m

export PATH := $(BIN):$(PATH)

.PHONY: all tools build test test-short acceptance bench lint run clean

all: build

## tools: the Temporal CLI (dev server + Web UI) and workflowcheck built from the Go module proxy, Azurite from npm,
## and FreeTDS's tsql (Debian package freetds-bin), the second TDS client the simulator's tests run.
tools: $(TEMPORAL) $(AZURITE) $(WORKFLOWCHECK) freetds

.PHONY: freetds
freetds:
	@if ! command -v tsql >/dev/null 2>&1; then \
		echo ">> installing FreeTDS (tsql) with apt-get"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get install -y freetds-bin || { $$SUDO apt-get update && $$SUDO apt-get install -y freetds-bin; }; \
	fi
	@command -v tsql >/dev/null 2>&1 || { echo "FreeTDS tsql is still missing: install the Debian package freetds-bin (apt-get install -y freetds-bin)"; exit 1; }

$(WORKFLOWCHECK):
	GOBIN=$(BIN) $(GO) install go.temporal.io/sdk/contrib/tools/workflowcheck@$(WORKFLOWCHECK_VERSION)

$(TEMPORAL):
	@echo ">> building the Temporal CLI $(TEMPORAL_CLI) into $(BIN) (first time: a few minutes)"
	GOBIN=$(BIN) $(GO) install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI)

$(AZURITE): package.json package-lock.json
	@echo ">> installing Azurite (pinned in package-lock.json)"
	npm ci --no-audit --no-fund
	@touch $(AZURITE)

build:
	$(GO) build ./...

## test: the whole suite; installs and starts what it needs (services run as plain processes).
test: tools lint
	$(GO) test $(GOTEST_FLAGS) ./...

## acceptance: the core scenarios (internal/testworld/acceptance) against the SQL Server named by
## SQLVAULT_ACCEPTANCE_DSN and the SQLVAULT_ACCEPTANCE_* agent settings (README, "Acceptance
## suite on a real SQL Server"); without SQLVAULT_ACCEPTANCE_DSN, against the simulator (as in make test).
acceptance: tools
	$(GO) test $(GOTEST_FLAGS) -v -run 'TestAcceptance' ./internal/testworld/acceptance/

## bench: every benchmark; results and method go to BENCHMARKS.md.
bench: tools
	$(GO) run ./internal/testworld/bench/cmd/benchreport -out BENCHMARKS.md 2>&1 | tee .bench.out

## lint: formatting, vet (Linux and Windows), workflowcheck (workflow code must stay deterministic),
## and the import rules of ARCHITECTURE.md (internal/testworld/archrules).
lint: $(WORKFLOWCHECK)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	GOOS=windows GOARCH=amd64 $(GO) vet ./...   # SQL Server VMs are mostly Windows: the Windows build must stay whole
	$(WORKFLOWCHECK) ./workflows/...
	$(GO) test -count=1 ./internal/testworld/archrules/

## run: the embedded default stack on loopback (Temporal dev server with its Web UI, Azurite, the SQL Server simulator).
run: tools
	./internal/testworld/devstack/run.sh

clean:
	rm -rf .run .bench.out
