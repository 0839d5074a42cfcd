// Package detect finds secrets keyveil was never given in what an API
// returns, and replaces each with a marker that names its kind:
// [REDACTED:github-token].
//
// The credentials Redactor removes the keys keyveil holds; this package is
// for the others an API hands back: a deployment's environment, a CI
// system's variables, a Kubernetes Secret, a user record with its password.
// It knows two things: well-known token formats (GitHub, Slack, Stripe, AWS,
// PEM private keys, JWTs, passwords in URLs and the like, see [Kinds]) and
// JSON fields whose normalised name says the value is secret (password,
// client_secret, access_token, ...), plus field paths an operator adds.
//
// Its promise: a candidate is found by a literal prefilter and then
// verified (length, character set, a checksum where the format has one),
// so that decoys such as UUIDs, git SHAs, hex digests, base64 images,
// pagination cursors and prose that mentions a prefix come back unchanged,
// and text without any rule's literal is never changed at all. No regular
// expression ever runs over a whole body.
//
// Detection is defence in depth, not the guarantee: a secret in a format
// it does not know passes. The guarantee for held keys stays with the
// credentials Redactor.
package detect
