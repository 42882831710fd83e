# auditlog-exporter: the commands that matter.
#   make demo   export from the built-in API simulator (no SAP account needed)
#   make test   vet, format check, all tests (race detector), short fuzzing

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
FUZZTIME  ?= 5s

# package:FuzzTarget pairs, one per parser of outside input.
FUZZ_TARGETS := \
	./audit:FuzzParseTime \
	./odata:FuzzDecodePage \
	./odata:FuzzRebaseNextLink \
	./odata/neosim:FuzzParseFilter \
	./state:FuzzDecodeState \
	./exporter:FuzzParseTimeArg \
	./exporter:FuzzParseConfig

.PHONY: all build demo test check unit fuzz bench clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/auditlog-exporter ./cmd/auditlog-exporter
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/neo-sim ./cmd/neo-sim

demo:
	$(GO) run ./cmd/auditlog-exporter demo --out ./demo-out

test: check unit fuzz

check:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

unit:
	$(GO) test -race -count=1 ./...

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; \
	  echo "fuzz $$name ($$pkg) for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./odata/

clean:
	rm -rf bin demo-out
