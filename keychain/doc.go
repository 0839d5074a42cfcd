// Package keychain keeps API keys in the operating system's keychain
// (macOS Keychain, Windows Credential Manager, the Secret Service on Linux)
// so that a host's config file holds only a reference, keychain:NAME, and
// the `keyveil secrets set|list|delete` command that manages them.
//
// Each secret is bound to one origin (scheme://host[:port]) when it is
// stored. keyveil refuses to start when a service would send a keychain
// secret anywhere else, so a model that can edit the host config and point
// the base URL at its own listener gets nothing.
//
// The promise: nothing this package writes — stdout, stderr, errors —
// contains a secret's value. [Lookup] returns the value to its caller
// (credentials, which wraps it in a Secret at once) and to no one else.
//
// What it does not promise: the OS keychain is as strong as the OS makes it.
// An unlocked Secret Service collection answers any process of the same
// user (`secret-tool lookup service keyveil username NAME`); on macOS the
// items are written through /usr/bin/security, which their access list
// then trusts. The keychain keeps keys out of files a model can read; it
// does not stand between keys and a model that has a shell and knows where
// to look. See the README's threat model.
package keychain
