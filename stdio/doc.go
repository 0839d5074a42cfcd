// Package stdio is the MCP stdio transport keyveil serves on, and the one
// place in keyveil allowed to write to os.Stdout.
//
// It speaks the MCP stdio framing — one JSON-RPC message per line — like the
// go-sdk's own mcp.StdioTransport, and differs from it where a long-running
// server that holds keys needs it to:
//
//   - Every outgoing message passes [Transport.Redact] before it is written,
//     in one Write call per line. A message that redaction would leave as
//     broken JSON is never written: a response becomes a JSON-RPC error for
//     the same id, anything else is dropped and logged, so the framing the
//     client parses never breaks.
//   - A malformed input line is answered with a JSON-RPC error (-32700 for
//     text that is not JSON, -32600 for JSON that is not a JSON-RPC message)
//     and the session goes on; the go-sdk's transport ends the session
//     instead. The answer says what was wrong but never quotes the line.
//   - When input ends, or [Transport.Stop] closes (main wires it to
//     SIGTERM/SIGINT), calls already in flight may finish and have their
//     responses written, for at most [Transport.Drain]; only then does the
//     session see end of input, so mcp.Server.Run returns nil.
//
// What does not live here: what is secret and how it is found (credentials,
// whose Redactor main passes in as Redact), and what the model may call
// (tools). Logs and the audit file have their own guarded writers.
package stdio
