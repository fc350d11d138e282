# Yiyang: FHIR R4 clinical data server. `make run` serves on SQLite under
# ./data at 127.0.0.1:8080 without authentication; `make test` runs every test (PostgreSQL tests run
# when TEST_DATABASE_URL is set, see README.md).
GO      ?= go
BIN     := bin/yiyang
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build run test bench generate lint fuzz clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/yiyang

run: build
	./$(BIN) serve --auth-disabled $(ARGS)

test:
	$(GO) test -count=1 -timeout 40m ./...

# Load benchmark against a bare chi+pgx baseline (needs TEST_DATABASE_URL for
# PostgreSQL), the search benchmark at 100k and 1M Observations, then the Go
# micro-benchmarks. About 15 minutes on 2 cores.
bench:
	$(GO) run ./cmd/yiyang bench $(BENCHARGS)
	$(GO) run ./cmd/yiyang bench-search $(BENCHSEARCHARGS)
	$(GO) test -run '^$$' -bench . -benchmem ./resources/... ./cmd/... ./server/...

generate:
	$(GO) generate ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Short fuzzing of every parser; the corpora under testdata/fuzz are kept as
# regression seeds and run by `make test`.
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./resources/
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./resources/search/
	$(GO) test -run '^$$' -fuzz FuzzApply -fuzztime $(FUZZTIME) ./resources/jsonpatch/
	$(GO) test -run '^$$' -fuzz FuzzCreate -fuzztime $(FUZZTIME) ./server/
	$(GO) test -run '^$$' -fuzz FuzzBundle -fuzztime $(FUZZTIME) ./server/
	$(GO) test -run '^$$' -fuzz FuzzAppendString -fuzztime $(FUZZTIME) ./server/
	$(GO) test -run '^$$' -fuzz FuzzParseScopes -fuzztime $(FUZZTIME) ./server/auth/
	$(GO) test -run '^$$' -fuzz FuzzExpandResource -fuzztime $(FUZZTIME) ./terminology/
	$(GO) test -run '^$$' -fuzz FuzzCompile -fuzztime $(FUZZTIME) ./resources/fhirpath/
	$(GO) test -run '^$$' -fuzz FuzzApply -fuzztime $(FUZZTIME) ./resources/fhirpatch/
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./resources/jsontree/
	$(GO) test -run '^$$' -fuzz FuzzReferenceEntry -fuzztime $(FUZZTIME) ./resources/index/
	$(GO) test -run '^$$' -fuzz FuzzAuditSearch -fuzztime $(FUZZTIME) ./resources/sqlite/

clean:
	rm -rf bin

# Search latency at 100k and 1M Observations against DESIGN.md's targets
# (p95 < 50 ms, growth < 2x); needs TEST_DATABASE_URL (PostgreSQL), takes
# ~10 minutes. BENCHSEARCHARGS="--scales 0.1 --queries 50" for a quick run.
.PHONY: bench-search
bench-search:
	$(GO) run ./cmd/yiyang bench-search $(BENCHSEARCHARGS)
