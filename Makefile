# APIQ's two commands: `make run` (a running APIQ on http://127.0.0.1:8080)
# and `make test` (the whole suite). Both start a local PostgreSQL first
# when none answers (deploy/local-postgres.sh).
SHELL := /bin/bash
GO ?= go
BIN := bin/apiq
TEST_TIMEOUT ?= 20m
BENCH_TIME ?= 1s
STATICCHECK_VERSION ?= v0.8.2

# `make run` connects as a service role that may not change the event log;
# migrations run as the owner role (both created by local-postgres.sh roles).
RUN_OWNER_URL ?= postgres://apiq_owner@127.0.0.1:5432/apiq?sslmode=disable
RUN_SERVICE_URL ?= postgres://apiq_app@127.0.0.1:5432/apiq?sslmode=disable
TEST_ADMIN_URL ?= $(or $(APIQ_TEST_DATABASE_URL),postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)

# Packages with benchmarks, found when `make bench` runs.
BENCH_PKGS = $(shell grep -rl --include='*_test.go' '^func Benchmark' . | xargs -r -n1 dirname | sort -u)

# npm-installed test servers (json-server, Prism): see deploy/testservers/README.md.
TESTSERVERS_DIR := deploy/testservers
TESTSERVERS_STAMP := $(TESTSERVERS_DIR)/node_modules/.apiq-installed-lock.json

# The web interface (http/web): TypeScript bundled by esbuild into
# http/web/dist, which the binary embeds. Rebuilt only when its sources change.
WEB_DIR := http/web
WEB_STAMP := $(WEB_DIR)/node_modules/.apiq-installed-lock.json
WEB_SRC := $(shell find $(WEB_DIR)/src -type f 2>/dev/null) $(WEB_DIR)/build.mjs $(WEB_DIR)/tsconfig.json $(WEB_DIR)/package-lock.json

.PHONY: all build run test bench lint postgres testservers web chromium screenshots clean

all: lint test

build: web
	$(GO) build -o $(BIN) ./cmd/apiq

web: $(WEB_DIR)/dist/index.html

# npm ci runs again only when the lock file changes; tsc type-checks, then
# esbuild bundles. Without npm it says so: the binary then serves a page
# saying the interface was not built.
$(WEB_DIR)/dist/index.html: $(WEB_SRC)
	@if ! command -v npm >/dev/null 2>&1; then \
	  echo "web: npm not found; install Node.js >= 18 and npm to build the web interface"; \
	else \
	  if ! cmp -s $(WEB_DIR)/package-lock.json $(WEB_STAMP); then \
	    echo "web: npm ci --prefix $(WEB_DIR)"; \
	    npm ci --prefix $(WEB_DIR) --no-audit --no-fund --loglevel=error >/dev/null && \
	    cp $(WEB_DIR)/package-lock.json $(WEB_STAMP) || exit 1; \
	  fi; \
	  echo "web: type-check and bundle $(WEB_DIR)/src"; \
	  (cd $(WEB_DIR) && node_modules/.bin/tsc --noEmit -p . && node build.mjs); \
	fi

# Headless Chromium for the web interface's browser test, from Debian's
# packages, installed only when missing.
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  echo "chromium: apt-get install chromium chromium-driver"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

postgres:
	APIQ_PG_ADMIN_URL="$(TEST_ADMIN_URL)" deploy/local-postgres.sh ensure

run: build
	APIQ_PG_ADMIN_URL="$(TEST_ADMIN_URL)" deploy/local-postgres.sh ensure
	APIQ_PG_ADMIN_URL="$(TEST_ADMIN_URL)" deploy/local-postgres.sh roles
	APIQ_MIGRATE_DATABASE_URL="$${APIQ_MIGRATE_DATABASE_URL:-$(RUN_OWNER_URL)}" \
	APIQ_DATABASE_URL="$${APIQ_DATABASE_URL:-$(RUN_SERVICE_URL)}" \
	./$(BIN) serve

# Installs the npm test servers once, and again only when the lock file
# changes. Without npm it says so and goes on: their tests then fail with
# the same advice (they never skip).
testservers:
	@if ! command -v npm >/dev/null 2>&1; then \
	  echo "testservers: npm not found; install Node.js >= 18 and npm, or the json-server and Prism tests fail"; \
	elif ! cmp -s $(TESTSERVERS_DIR)/package-lock.json $(TESTSERVERS_STAMP); then \
	  echo "testservers: npm ci --prefix $(TESTSERVERS_DIR)"; \
	  npm ci --prefix $(TESTSERVERS_DIR) --no-audit --no-fund --loglevel=error >/dev/null && \
	  cp $(TESTSERVERS_DIR)/package-lock.json $(TESTSERVERS_STAMP); \
	fi

test: testservers web chromium
	APIQ_PG_ADMIN_URL="$(TEST_ADMIN_URL)" deploy/local-postgres.sh ensure -q
	$(GO) test -p 2 -count=1 -timeout $(TEST_TIMEOUT) ./...

# Screenshots of every page of the web interface (docs/screenshots), taken
# by its browser test.
screenshots: testservers web chromium
	APIQ_PG_ADMIN_URL="$(TEST_ADMIN_URL)" deploy/local-postgres.sh ensure -q
	APIQ_SCREENSHOTS="$(CURDIR)/docs/screenshots" $(GO) test -count=1 -run '^TestWebInterface$$' ./cmd/apiq

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
