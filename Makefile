# wirebridge — build, test, benchmark.
# `make test` is what CI runs (.ci/run) and what the README tells you to run.

GO       ?= go
PKGS     ?= ./...
FUZZTIME ?= 10s
export CGO_ENABLED ?= 0

.PHONY: all build test deps fmt-check vet unit race integration fuzz bench clean

all: build

# VERSION is what `wirebridge version` prints (git describe; empty outside a
# git checkout, and the binary then reports the toolchain's VCS stamp).
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null)

build:
	$(GO) build -ldflags "-X github.com/wirebridge/wirebridge/internal/app.Version=$(VERSION)" -o bin/wirebridge ./cmd/wirebridge

## test: everything CI checks, after installing what the tests need.
test: deps fmt-check vet race integration fuzz

## deps: install the tools the tests use (Debian), only when missing.
deps:
	@scripts/deps.sh

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)
	$(GO) vet -tags integration $(PKGS)

unit:
	$(GO) test $(PKGS)

# -race needs cgo.
race:
	CGO_ENABLED=1 $(GO) test -race -count=1 $(PKGS)

integration:
	$(GO) test -tags integration -count=1 -timeout 15m $(PKGS)

## fuzz: each fuzz target for $(FUZZTIME).
fuzz:
	@scripts/fuzz.sh $(FUZZTIME)

## bench: the benchmarks reported in docs/performance.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 $(PKGS) | tee bench.txt

clean:
	rm -rf bin bench.txt
