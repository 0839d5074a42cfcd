// Package keys is the registry of API keys that remote agents present when
// they reach keyveil over Streamable HTTP, and the `keyveil keys` command
// that creates, lists, revokes and rotates them.
//
// A key reads kv_<id>_<secret>. The registry file (JSON, mode 0600) holds
// each key's id, a SHA-256 hash of its secret, its name, scopes, rate, status
// and times; never the secret, which is printed once, when the key is made.
// [Registry.Authenticate] compares hashes in constant time, answers an
// unknown id exactly as it answers a wrong secret, and notices edits to the
// file, by this process or another, within [Options.PollInterval].
//
// The promise: nothing this package writes — the registry file, errors, log
// lines, `keys list` — contains a key's secret. The one exception is the line
// `keys create` and `keys rotate` print on stdout, which is the new key.
//
// What does not live here: HTTP, headers and rate limiting (remote), and the
// keys keyveil holds for the services it calls (credentials), which are a
// different kind of secret altogether.
package keys
