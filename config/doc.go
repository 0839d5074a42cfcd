// Package config turns the operator's settings — the zero-config MCP_API_*
// environment variables or a services file — into plain, validated structs.
//
// It never sees a secret. A service names the environment variable that holds
// its key ([Auth.Env]); reading that variable is the credentials package's job.
// Because nothing here holds key material, any of these structs may be
// printed, logged or shown to the model.
//
// What does not live here: loading secrets (credentials), attaching them to
// requests (credentials), deciding whether a call is allowed at run time
// (tools, which uses [Rule] from here so that start-up and run time agree).
package config
