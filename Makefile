# auditlog-exporter: the commands that matter.
#   make demo   export from the built-in API simulator (no SAP account needed)
#   make test   vet, format check, staticcheck, errcheck, all tests (race detector, S3 tests on a
#               versitygw it installs and starts, the image built with
#               buildah and run), short fuzzing
#   make image  the container image, offline, with buildah

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# Fuzzing budget per target: a count of executions, not a duration. Go 1.26's
# fuzz coordinator can report a spurious "context deadline exceeded" failure
# when a duration ends while a worker is mid-call (go.dev/issue/75804, fixed
# in Go 1.27); a count has no deadline to race. 20000x is 0.2-8 s per target.
FUZZTIME  ?= 20000x

# The S3-compatible server the S3 tests start (versitygw, posix backend),
# installed from the Go module proxy into a cache directory when missing.
VERSITYGW_VERSION ?= v1.8.0
TOOLS_DIR ?= $(HOME)/.cache/auditlog-exporter/versitygw-$(VERSITYGW_VERSION)
VERSITYGW ?= $(TOOLS_DIR)/versitygw
export VERSITYGW

# An independent Parquet reader for the format tests: DuckDB for Node, from npm.
DUCKDB_NODE_VERSION ?= 1.5.6-r.1
DUCKDB_NODE_DIR ?= $(HOME)/.cache/auditlog-exporter/duckdb-node-$(DUCKDB_NODE_VERSION)
export DUCKDB_NODE_DIR
DUCKDB_NODE := $(DUCKDB_NODE_DIR)/node_modules/@duckdb/node-api/package.json

# package:FuzzTarget pairs, one per parser of outside input.
FUZZ_TARGETS := \
	./audit:FuzzParseTime \
	./audit:FuzzReadBinary \
	./odata:FuzzDecodePage \
	./odata:FuzzRebaseNextLink \
	./source/apiclient:FuzzParseRetryAfter \
	./odata:FuzzODataMessage \
	./source/apiclient:FuzzScrubText \
	./evidence:FuzzDecodeManifest \
	./evidence:FuzzDecodeSeal \
	./source/apiclient:FuzzShowURL \
	./internal/textsafe:FuzzEscape \
	./source:FuzzSqueezeWhitespace \
	./sinks:FuzzWindowOfManifest \
	./evidence:FuzzOpen \
	./odata/neosim:FuzzParseFilter \
	./cfaudit:FuzzDecodeCFPage \
	./cfaudit:FuzzParseHandle \
	./cfaudit:FuzzParseServiceKey \
	./cfaudit:FuzzHandleQueryValue \
	./cfaudit:FuzzParseKymaCredentials \
	./state:FuzzDecodeState \
	./exporter:FuzzParseTimeArg \
	./config:FuzzParseConfig \
	./schema/ocsf:FuzzMap \
	./schema/ocsf:FuzzParseJSON

CHAOS_RUNS ?= 60

.PHONY: all build demo test check unit fuzz bench chaos tools image clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/auditlog-exporter ./cmd/auditlog-exporter
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/neo-sim ./cmd/neo-sim

demo:
	$(GO) run ./cmd/auditlog-exporter demo --out ./demo-out

# The container image, FROM scratch, built offline with buildah (Debian:
# apt-get install buildah); the Dockerfile builds the same files with Docker.
IMAGE ?= auditlog-exporter:$(subst +,-,$(VERSION))
image:
	VERSION=$(VERSION) COMMIT=$(COMMIT) scripts/build-image.sh $(IMAGE)

test: check unit fuzz

# The linters are tools of the module kept apart from its dependencies:
# tools.mod pins them (staticcheck, errcheck) and tools.sum their checksums;
# `go tool` fetches them from the module proxy and builds them once into
# the build cache. errcheck skips _test.go files and lets go what
# .errcheck-excludes lists, with its reasons.
GOTOOL := $(GO) tool -modfile=tools.mod

check:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GOTOOL) staticcheck ./...
	$(GOTOOL) errcheck -ignoretests -exclude .errcheck-excludes ./...

tools: $(VERSITYGW) $(DUCKDB_NODE)

$(DUCKDB_NODE):
	@echo "installing @duckdb/node-api $(DUCKDB_NODE_VERSION) into $(DUCKDB_NODE_DIR)"
	mkdir -p $(DUCKDB_NODE_DIR)
	npm install --no-audit --no-fund --loglevel=error --prefix $(DUCKDB_NODE_DIR) @duckdb/node-api@$(DUCKDB_NODE_VERSION)

$(VERSITYGW):
	@echo "installing versitygw $(VERSITYGW_VERSION) into $(TOOLS_DIR): compiling it takes about 3 CPU-minutes (4-8 minutes on a busy 2-core machine), once"
	GOBIN=$(TOOLS_DIR) $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

# Four test packages at once, up to four tests of each: most slow tests wait
# (a gateway's refusals, a backoff, a subprocess), so the default of one per
# core leaves cores idle. Test artifacts (the rendered report's screenshots)
# are kept in test-artifacts/.
# internal/testsummary prints what `go test` prints (the output of failed
# tests in full), then how many tests passed, failed and skipped, and why
# each skip; it exits non-zero when anything failed.
unit: tools
	mkdir -p $(CURDIR)/test-artifacts
	$(GO) run ./internal/testsummary $(GO) test -json -race -count=1 -p 4 -parallel 4 -timeout 20m -artifacts -outputdir $(CURDIR)/test-artifacts ./...

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; \
	  echo "fuzz $$name ($$pkg): $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

# Many SIGKILLed runs of the real binary against a faulty API and a faulty
# S3, then one clean run: the output must equal the source exactly. The
# normal test run does a short version (6 runs).
chaos: tools
	CHAOS_RUNS=$(CHAOS_RUNS) $(GO) test -count=1 -run '^TestChaos$$' -v -timeout 30m ./cmd/auditlog-exporter/ | grep -E '^(chaos|=== RUN|--- |ok|FAIL|PASS)|chaos_test'

bench: tools
	$(GO) test -run '^$$' -bench DecodePage -benchmem -count 5 ./odata/
	$(GO) test -run '^$$' -bench DecodeCFPage -benchmem -count 5 ./cfaudit/
	$(GO) test -run '^$$' -bench LookBack -benchtime 1x ./exporter/
	$(GO) test -run '^$$' -bench 'EndToEnd|BackfillParallel|ParallelMemory|AdaptiveRate|ManyAccounts|Evidence|AppendOnly|VerifyS3|OCSF' -benchtime 1x -timeout 40m ./cmd/auditlog-exporter/

clean:
	rm -rf bin demo-out test-artifacts
