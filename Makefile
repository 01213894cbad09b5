# APIQ's two commands: `make run` (a running APIQ on http://127.0.0.1:8080)
# and `make test` (the whole suite). Both start a local PostgreSQL first
# when none answers (deploy/local-postgres.sh).
SHELL := /bin/bash
GO ?= go
BIN := bin/apiq
TEST_TIMEOUT ?= 20m
BENCH_TIME ?= 1s
STATICCHECK_VERSION ?= 2026.2.2

# `make run` connects as a service role that may not change the event log;
# migrations run as the owner role (both created by local-postgres.sh roles).
RUN_OWNER_URL ?= postgres://apiq_owner@127.0.0.1:5432/apiq?sslmode=disable
RUN_SERVICE_URL ?= postgres://apiq_app@127.0.0.1:5432/apiq?sslmode=disable
TEST_ADMIN_URL ?= $(or $(APIQ_TEST_DATABASE_URL),postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)

# Packages with benchmarks, found when `make bench` runs.
BENCH_PKGS = $(shell grep -rl --include='*_test.go' '^func Benchmark' . | xargs -r -n1 dirname | sort -u)

.PHONY: all build run test bench lint postgres clean

all: lint test

build:
	$(GO) build -o $(BIN) ./cmd/apiq

postgres:
	APIQ_PG_ADMIN_URL="$(TEST_ADMIN_URL)" deploy/local-postgres.sh ensure

run: build
	APIQ_PG_ADMIN_URL="$(TEST_ADMIN_URL)" deploy/local-postgres.sh ensure
	APIQ_PG_ADMIN_URL="$(TEST_ADMIN_URL)" deploy/local-postgres.sh roles
	APIQ_MIGRATE_DATABASE_URL="$${APIQ_MIGRATE_DATABASE_URL:-$(RUN_OWNER_URL)}" \
	APIQ_DATABASE_URL="$${APIQ_DATABASE_URL:-$(RUN_SERVICE_URL)}" \
	./$(BIN) serve

test:
	APIQ_PG_ADMIN_URL="$(TEST_ADMIN_URL)" deploy/local-postgres.sh ensure -q
	$(GO) test -p 2 -count=1 -timeout $(TEST_TIMEOUT) ./...

bench:
	APIQ_PG_ADMIN_URL="$(TEST_ADMIN_URL)" deploy/local-postgres.sh ensure -q
	@if [ -z "$(BENCH_PKGS)" ]; then echo "no benchmarks"; else \
	  $(GO) test -p 1 -count=1 -run '^$$' -bench . -benchtime=$(BENCH_TIME) -timeout 60m $(BENCH_PKGS); fi

lint:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	@command -v staticcheck >/dev/null 2>&1 || [ -x "$$($(GO) env GOPATH)/bin/staticcheck" ] || \
	  $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" staticcheck ./...

clean:
	rm -rf bin
