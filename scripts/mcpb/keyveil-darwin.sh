#!/bin/sh
# Claude Desktop's platform_overrides choose by OS, not by CPU, so the
# bundle's darwin entry runs this, which picks the binary for this Mac and
# replaces itself with it (exec: same process, environment and stdio).
dir=$(dirname "$0")
case "$(uname -m)" in
  arm64) exec "$dir/keyveil-darwin-arm64" "$@" ;;
  *) exec "$dir/keyveil-darwin-amd64" "$@" ;;
esac
