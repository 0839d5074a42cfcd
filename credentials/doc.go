// Package credentials owns everything secret: which environment variables
// hold keys ([Load]), the [Secret] type that carries a key without printing
// it, the [Transport] that attaches each key to its own service's origin and
// nowhere else, and the [Redactor] through which every byte keyveil writes
// passes.
//
// The promise: a key's value leaves this package only on the wire to its own
// service's origin (or its token endpoint), inside the header or query
// parameter the operator chose, attached by the part of the service's auth
// it belongs to.
// Everything else — tools, logs, the audit file, stdout — sees a Secret that
// prints as "[REDACTED:NAME]", or text from which the Redactor has removed
// the key in every encoding it knows.
//
// What does not live here: how each auth scheme reads, checks and attaches
// its values (credentials/scheme, one file per scheme; this package loads
// the variables they name and calls their parts), the services file and
// non-secret settings (config), and what the model may ask for (tools, which never imports this
// package; it is handed an *http.Client whose Transport lives here).
package credentials
