// Package openapi turns the operations of an OpenAPI 3.0 or 3.1 document
// into keyveil tools ([config.Tool]), so an operator who already has a
// description of an API can offer named, typed operations instead of raw
// HTTP.
//
// The operator chooses which operations become tools (by operationId,
// "tag:NAME" or "*"); nothing is offered by default. Each tool's input
// schema comes from the operation's parameters and JSON request body with
// every $ref resolved and recursion cut off at a fixed depth. Parameters
// that carry the API's own credentials (its apiKey security schemes, and
// the service's auth) are left out: keyveil supplies those, and the model
// is never asked for a key.
//
// Loading reads local files only; a $ref to a URL is refused, so importing
// a document makes no network request.
//
// What does not live here: the services file (config), building and
// sending requests from a tool's arguments (tools), credentials.
package openapi
