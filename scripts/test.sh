#!/usr/bin/env bash
# The test command: everything CI checks, on a fresh machine with Go and
# Node installed. Installs what it needs (Go modules, staticcheck, the npm
# packages of the end-to-end tests) and fails on the first problem.
#
#   scripts/test.sh          all of it
#   FUZZTIME=30s scripts/test.sh   longer fuzz runs
set -eu
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-10s}
STATICCHECK_VERSION=v0.7.0

step() { printf '\n==> %s\n' "$*"; }

step "go mod download"
go mod download

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './e2e/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "staticcheck"
staticcheck=$(go env GOPATH)/bin/staticcheck
if ! "$staticcheck" -version 2>/dev/null | grep -q "${STATICCHECK_VERSION#v}"; then
  go install "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}"
fi
"$staticcheck" ./...

step "go build"
go build -o keyveil .

step "go test -race"
go test -race -count=1 ./...

step "fuzz (${FUZZTIME} each)"
pending=""
for target in $(go test -list '^Fuzz' ./... | grep -E '^(Fuzz|ok)' | awk '/^Fuzz/{print $1} /^ok/{print "@"$2}'); do
  case "$target" in
    @*) pkg=${target#@}; for f in $pending; do
          echo "fuzz $pkg $f"; go test -run='^$' -fuzz="^${f}\$" -fuzztime="$FUZZTIME" "$pkg" >/dev/null
        done; pending="" ;;
    *) pending="${pending:-} $target" ;;
  esac
done

step "end-to-end tests (official TypeScript SDK client)"
(cd e2e && npm ci --no-audit --no-fund --loglevel=error && KEYVEIL_BIN="$PWD/../keyveil" npm test)

step "end-to-end tests of serve --http (TypeScript SDK over Streamable HTTP)"
(cd e2e/http && npm ci --no-audit --no-fund --loglevel=error && KEYVEIL_BIN="$PWD/../../keyveil" npm test)

step "MCP conformance suite against serve --http"
KEYVEIL_BIN="$PWD/keyveil" scripts/conformance.sh

echo
echo "all checks passed"
