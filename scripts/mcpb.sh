#!/bin/sh
# Builds dist/keyveil.mcpb, the Claude Desktop bundle (an MCP Bundle: a zip
# of manifest.json and the server binaries). Double-clicking it installs
# keyveil into Claude Desktop, which asks for the user_config values of
# scripts/mcpb/manifest.json and keeps the API key in the OS keychain.
#
#   scripts/mcpb.sh                   version 0.0.0
#   VERSION=1.2.3 scripts/mcpb.sh     stamps manifest and binaries
#
# Needs Go and Node (npm installs the pinned mcpb CLI from e2e/mcpb).
# Binaries: darwin-arm64, darwin-amd64 (picked by server/keyveil-darwin.sh,
# as platform_overrides choose by OS only), windows-amd64, linux-amd64.
set -eu
cd "$(dirname "$0")/.."

VERSION=${VERSION:-0.0.0}
case "$VERSION" in
  *[!0-9A-Za-z.+-]*|'') echo "mcpb.sh: VERSION must be semver, like 1.2.3"; exit 2 ;;
esac

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/server" dist

for target in darwin/arm64 darwin/amd64 windows/amd64 linux/amd64; do
  os=${target%/*} arch=${target#*/} ext=
  [ "$os" = windows ] && ext=.exe
  echo "building keyveil-$os-$arch$ext"
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath \
    -ldflags "-s -w -X main.version=v$VERSION" \
    -o "$stage/server/keyveil-$os-$arch$ext" .
done
cp scripts/mcpb/keyveil-darwin.sh "$stage/server/"
chmod 755 "$stage/server/"*

sed "s/\"version\": \"0.0.0\"/\"version\": \"$VERSION\"/" scripts/mcpb/manifest.json >"$stage/manifest.json"

mcpb=e2e/mcpb/node_modules/.bin/mcpb
if [ ! -x "$mcpb" ]; then
  (cd e2e/mcpb && npm ci --no-audit --no-fund --loglevel=error)
fi
"$mcpb" validate "$stage/manifest.json"
rm -f dist/keyveil.mcpb
"$mcpb" pack "$stage" dist/keyveil.mcpb
echo "built dist/keyveil.mcpb (version $VERSION)"
