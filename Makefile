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

.PHONY: all tools build test test-short acceptance bench lint run clean release

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

## bench: every benchmark; results and method go to BENCHMARKS.md. RESUME=1 keeps the benchmarks a
## failed run finished and runs the rest.
bench: tools
	$(GO) run ./internal/testworld/bench/cmd/benchreport -out BENCHMARKS.md $(if $(RESUME),-resume) 2>&1 | tee .bench.out

## lint: formatting, vet (Linux and Windows), workflowcheck (workflow code must stay deterministic),
## and the import rules of ARCHITECTURE.md (internal/testworld/archrules).
lint: $(WORKFLOWCHECK)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	GOOS=windows GOARCH=amd64 $(GO) vet ./...   # SQL Server VMs are mostly Windows: the Windows build must stay whole
	GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null ./cmd/sqlvault-worker
	GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null ./cmd/sqlvault
	$(WORKFLOWCHECK) ./workflows/...
	$(GO) test -count=1 ./internal/testworld/archrules/

## run: the embedded default stack on loopback (Temporal dev server with its Web UI, Azurite, the SQL Server simulator).
run: tools
	./internal/testworld/devstack/run.sh

## release: binaries for linux/amd64, linux/arm64 and windows/amd64 in dist/, a Windows zip
## (with install.cmd, which installs the service), and deb/rpm packages with the systemd unit
## (nfpm, run from the Go module proxy at a pinned version). VERSION (git describe) names the
## files and is stamped into the binaries with the revision (`sqlvault-worker version` prints them).
NFPM_VERSION := v2.48.0
# A tag (v1.2.3 → 1.2.3), or 0.0.0-<commit> before the first tag: deb and rpm versions start with a digit.
VERSION ?= $(shell v=$$(git describe --tags --dirty 2>/dev/null) && echo $${v\#v} || echo 0.0.0-$$(git rev-parse --short HEAD))
REVISION := $(shell git rev-parse HEAD 2>/dev/null)
RELEASE_LDFLAGS := -X github.com/sqlvault/sqlvault/internal/buildinfo.version=$(VERSION) -X github.com/sqlvault/sqlvault/internal/buildinfo.revision=$(REVISION)
DIST := dist
# The Linux binaries are built without cgo: static, they start on every distribution SQL
# Server on Linux supports. A cgo build needs the build machine's glibc or newer (built on
# glibc 2.34+, it would not start at all on RHEL 8 or Ubuntu 20.04). Without cgo the agent
# cannot call libsqlvdi.so, so packaged Linux agents take the URL data path (doctor says why).
# RELEASE_LINUX_CGO=1 builds linux/amd64 (SQL Server on Linux is x86-64 only) with cgo, for
# the VDI path: run it on a builder whose glibc is no newer than the oldest target's.
RELEASE_LINUX_CGO ?= 0
release:
	rm -rf $(DIST) && mkdir -p $(DIST)
	for p in linux/amd64 linux/arm64 windows/amd64; do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		cgo=0; [ $$p = linux/amd64 ] && cgo=$(RELEASE_LINUX_CGO); \
		for b in sqlvault-worker sqlvault; do \
			CGO_ENABLED=$$cgo GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "$(RELEASE_LDFLAGS)" -o $(DIST)/$$os-$$arch/$$b$$ext ./cmd/$$b; \
		done; \
	done
	cp packaging/windows/install.cmd $(DIST)/windows-amd64/
	cd $(DIST)/windows-amd64 && zip -q ../sqlvault-agent_$(VERSION)_windows_amd64.zip sqlvault-worker.exe sqlvault.exe install.cmd
	for arch in amd64 arm64; do \
		tar -C $(DIST)/linux-$$arch -czf $(DIST)/sqlvault-agent_$(VERSION)_linux_$$arch.tar.gz sqlvault-worker sqlvault; \
		rm -rf $(DIST)/pkg && cp -r $(DIST)/linux-$$arch $(DIST)/pkg; \
		for fmt in deb rpm; do \
			VERSION=$(VERSION) ARCH=$$arch $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION) \
				package --config packaging/nfpm.yaml --packager $$fmt --target $(DIST)/; \
		done; \
	done
	rm -rf $(DIST)/pkg
	ls -l $(DIST)

clean:
	rm -rf .run .bench.out dist
