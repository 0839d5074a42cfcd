package config

import "github.com/keyveil/keyveil/internal/valid"

// looksLikeSecret reports whether v looks like a credential rather than a
// name (see [valid.LooksLikeSecret]): the services file is not secret (it
// is committed, shared and shown by keyveil check), so keyveil refuses a
// key pasted into it.
func looksLikeSecret(v string) bool { return valid.LooksLikeSecret(v) }

// quote returns v quoted for an error message, or a note that it is not
// shown when v looks like a secret (see [valid.Quote]).
func quote(v string) string { return valid.Quote(v) }
