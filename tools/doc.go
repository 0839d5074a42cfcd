// Package tools defines what the model can ask keyveil for: the MCP tools
// list_services and call_api, the checks every call passes before it leaves
// the process (path confinement, allow rules, credential headers, read-only
// mode), the guardrails on write calls (input allowlists with format
// checks, user confirmation through elicitation, idempotency keys and
// replay, rate limits; see [Guards]), the shaping of responses (size cap,
// JSON parsing, header allowlist) and one audit line per call.
//
// Its promise: a tool never holds a secret. Handlers build requests against a
// service's base URL and hand them to the *http.Client in [Deps], whose
// Transport attaches the key; this package does not import the credentials
// package at all. What a handler returns to the model is safe text even
// before the redacting writer under stdout sees it: no request URL with its
// query string, no raw transport error, no Set-Cookie or authentication
// challenge from upstream.
//
// What does not live here: loading or attaching keys, the redactor
// (credentials), parsing the services file (config), and the stdio transport.
package tools
