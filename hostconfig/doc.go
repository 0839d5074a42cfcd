// Package hostconfig knows where MCP hosts (Claude Desktop, Claude Code,
// Cursor, VS Code, Windsurf, Gemini CLI, Codex) keep their server
// configurations, and finds keys written there in plain text.
//
// A key in such a file is within reach of every program running as the
// user — in an IDE agent, the model's own shell and file tools — however
// well keyveil guards its own copy. `keyveil check` and `keyveil serve`
// warn, naming the file and the fix.
//
// The promise: nothing this package returns depends on a file's text
// beyond which loaded key (by its variable's name) a file holds. It
// compares SHA-256 digests of whole string values, and of their
// space-, '='-, ':'-, ','- and ';'-separated words, with the keys' digests
// in constant time, and never keeps, returns or prints a value or any
// part of one.
package hostconfig
