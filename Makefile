# Bulwark — run `make help` for the targets.
GO       ?= go
GOBIN    := $(shell $(GO) env GOPATH)/bin
PKGS     := ./...
VERSION ?= 0.1.0
PLUGIN_VERSION ?= $(VERSION)
# Core packages also tested under the race detector.
RACE_PKGS := ./agent/... ./collector/... ./alerting/... ./internal/wire/... ./internal/configfile/... ./internal/queue/... ./internal/depgraph/... ./internal/attrib/... ./internal/cutset/... ./playbooks/...

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bulwark and bulwark-agent into bin/.
	$(GO) build -o bin/ ./cmd/...

.PHONY: plugin
plugin: ## Build the Grafana data source plugin's zip into dist/ (back end for linux/amd64).
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '-s -w -X github.com/grafana/grafana-plugin-sdk-go/build/buildinfo.buildInfoJSON={"pluginID":"bulwarkhq-bulwark-datasource","version":"$(PLUGIN_VERSION)"}' -o dist/gpx_bulwark_linux_amd64 ./cmd/bulwark-datasource
	$(GO) run ./dashboards/plugin/pack -backend dist/gpx_bulwark_linux_amd64 -version $(PLUGIN_VERSION) -out dist

.PHONY: package
package: ## Build the Debian packages bulwark and bulwark-agent into dist/ (nfpm, linux/amd64).
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -o dist/bin/ ./cmd/bulwark ./cmd/bulwark-agent
	cd deploy/package && $(GO) run . -root ../.. -bin ../../dist/bin -version $(VERSION) -out ../../dist

.PHONY: image
image: ## Build the collector's and the agent's container images (static binaries, no base image) into dist/oci.
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -o dist/static/ ./cmd/bulwark ./cmd/bulwark-agent
	cd deploy/package && $(GO) run . -root ../.. -bin ../../dist/static -version $(VERSION) -out ../../dist -oci ../../dist/oci

.PHONY: notices
notices: ## Rewrite THIRD_PARTY_NOTICES from the modules the binaries link (a test fails when it is stale).
	$(GO) run ./deploy/notices/gen

.PHONY: deps
deps: ## Install the real components the tests use (apt-get as root, go install).
	./.ci/install-deps

# Every fuzz target, as "Target:package": the whole suite runs each briefly.
FUZZ_TARGETS := FuzzDecode:./internal/wire FuzzIngestBody:./collector/ingest FuzzLoad:./agent/agentconfig \
	FuzzLoad:./collector/collectorconfig FuzzSubresources:./agent/probe FuzzParseCSV:./collector/inventory \
	FuzzParse:./collector/zone FuzzParseMatchers:./alerting FuzzZoneDir:./collector/zone FuzzParseCatalog:./internal/attrib \
	FuzzImportLibloc:./internal/attrib FuzzParseTrustStore:./internal/attrib \
	FuzzLoadPlaybook:./playbooks FuzzDecode:./internal/cutset FuzzCheck:./collector/backup \
	FuzzDecodeExport:./internal/audit
FUZZTIME ?= 30s

.PHONY: test
test: deps lint ## Install what the tests need, lint, then run the whole suite (with -race on core packages) and each fuzz target for 5s.
	$(GO) test -count=1 -timeout 20m $(PKGS)
	cd deploy/package && $(GO) test -count=1 -timeout 10m ./...
	cd deploy/kubernetes && $(GO) test -count=1 -timeout 10m ./...
	$(GO) test -count=1 -race -timeout 20m $(RACE_PKGS)
	$(MAKE) --no-print-directory fuzz FUZZTIME=5s

.PHONY: lint
lint: ## gofmt, go vet and staticcheck.
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GOBIN)/staticcheck $(PKGS)
	cd deploy/package && $(GO) vet ./... && $(GOBIN)/staticcheck ./...
	cd deploy/kubernetes && $(GO) vet ./... && $(GOBIN)/staticcheck ./...

# Go 1.26's fuzz coordinator can fail a target with a bare "context deadline exceeded" when its
# -fuzztime runs out while a worker is busy, above all on a loaded machine (go.dev/issue/75804,
# fixed in Go 1.27): that is not a finding. A target fails when it writes a crasher, or fails in
# any other way; its seed corpus also runs with the unit tests.
.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 30s); a crasher is kept under testdata/fuzz/ as a regression test.
	@set -e; for t in $(FUZZ_TARGETS); do \
	  name=$${t%%:*}; pkg=$${t#*:}; echo "fuzz $$name $$pkg for $(FUZZTIME)"; \
	  if $(GO) test -run XXX -fuzz "^$$name$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 100x $$pkg > .fuzz.log 2>&1; then \
	    if grep -q 'no fuzz tests to fuzz' .fuzz.log; then echo "no fuzz target $$name in $$pkg"; rm -f .fuzz.log; exit 1; fi; \
	    tail -n 2 .fuzz.log; continue; fi; \
	  cat .fuzz.log; \
	  if ! grep -q 'Failing input written' .fuzz.log && grep -qx '    context deadline exceeded' .fuzz.log; then \
	    echo "fuzz $$name: Go's coordinator race at the deadline (go.dev/issue/75804), no crasher written: counted as run"; continue; fi; \
	  rm -f .fuzz.log; exit 1; \
	done; rm -f .fuzz.log

.PHONY: bench
bench: ## Run the Go benchmarks and the ingest comparison (see docs/BENCHMARKS.md).
	WITH_BENCH_DEPS=1 ./.ci/install-deps
	$(GO) test -run XXX -bench . -benchmem $(PKGS)
	$(GO) run ./cmd/bulwark-bench ingest
	$(GO) run ./cmd/bulwark-bench query
	$(GO) run ./cmd/bulwark-bench agent

.PHONY: demo
demo: ## Run the demo world on embedded defaults.
	$(GO) run ./cmd/bulwark demo
