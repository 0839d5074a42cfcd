// Package remote serves keyveil's tools over MCP Streamable HTTP to agents
// that cannot spawn a process: a hosted agent, a TypeScript or Python client
// on another machine, anything that speaks MCP at a URL.
//
// [ListenAndServe] runs one HTTP server with two routes: /mcp, the go-sdk
// Streamable HTTP handler, and /healthz. Every request to /mcp carries an API
// key from the [keys] registry, as "Authorization: Bearer KEY" or
// "X-API-Key: KEY"; the key's scopes choose which tools its session sees,
// and its rate caps how often it may call. In front of that sit the checks a
// network listener needs and a stdio pipe does not: a Host check and an
// Origin allowlist against DNS rebinding and drive-by browser pages, a
// request body limit, timeouts, and a refusal to listen beyond loopback
// without TLS unless told so explicitly.
//
// The promise: a presented key is never logged, never written to the audit
// (which records the key's id) and never reaches a tool — the key headers are
// replaced before the MCP handler runs. A refused request learns only which
// of missing, invalid, revoked or expired applies, and "invalid" never tells
// an unknown id from a wrong secret.
//
// What does not live here: the tools and the credentials keyveil attaches to
// upstream calls (main hands this package a constructor for an *mcp.Server
// with the tools already filtered by scope), and the key registry itself
// (keys).
package remote
