// Package config turns the operator's settings — the zero-config MCP_API_*
// environment variables or a services file — into plain, validated structs:
// services ([Service], its [AuthList] of parts, allow [Rule]s) and the tools
// declared on them ([Tool], [Template], [Mapping]).
//
// It never sees a secret. A service's auth names the environment variables
// that hold its keys (see [AuthList.Vars]); reading them is the credentials
// package's job, and each part's keys are checked by its scheme in
// credentials/scheme, which config imports for that alone.
// Because nothing here holds key material, any of these structs may be
// printed, logged or shown to the model. A key pasted into the file where a
// variable's name belongs is refused at start-up, and the error does not
// repeat it.
//
// Every problem in a services file is reported at once, each as
// file:line: what is wrong and what to write instead.
//
// What does not live here: loading secrets (credentials), attaching them to
// requests (credentials), importing OpenAPI documents (openapi, which adds
// its tools with [Config.AddTools]), deciding whether a call is allowed at
// run time (tools, which uses [Rule], [Template] and [Config.Hidden] from
// here so that start-up and run time agree).
package config
