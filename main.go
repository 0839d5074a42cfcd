// The keyveil command runs a Model Context Protocol server that lets a
// language model call HTTP APIs with keys it never sees.
//
// It is wiring only: read options, load the configuration and the
// credentials, build the tools, and serve them over stdio. Everything with a
// rule in it lives in a package: config (settings), credentials (keys,
// transport, redactor), tools (what the model may ask for) and stdio (the
// protocol on stdin and stdout).
//
// Usage:
//
//	keyveil [serve] [--config FILE] [--env-file FILE] [--read-only] [--audit-log FILE]
//	keyveil check [--ping] [same options]
//	keyveil openapi FILE [--operations ...]
//	keyveil version (or --version, -v)
//	keyveil help (or --help, -h; keyveil COMMAND --help)
//	keyveil serve --http ADDR --keys FILE [...]
//	keyveil keys create|list|revoke|rotate [...]
//	keyveil secrets set NAME --origin URL | list | delete NAME
package main

import (
	"context"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/keyveil/keyveil/credentials"
	"github.com/keyveil/keyveil/keychain"
	"github.com/keyveil/keyveil/keys"
	"github.com/keyveil/keyveil/openapi"
	"github.com/keyveil/keyveil/procguard"
)

// proc is this process's hardening, started first thing in main so that
// no key is ever in a dumpable process (see procguard). load scrubs the
// secret variables through it. nil when tests call run in process: they
// have nothing to protect, and must not make the test binary undebuggable.
var proc *procguard.Guard

func main() {
	debug, _ := strconv.ParseBool(os.Getenv(procguard.DebugEnv))
	proc = procguard.Start(procguard.Options{Dumpable: debug})
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one keyveil command and returns the process exit code. It
// takes its streams as arguments so tests drive it like a process; it prints
// its own errors, because once keys are loaded those messages must pass the
// redactor, which only run holds.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd, rest := "serve", args
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, rest = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, rest, stdin, stdout, stderr)
	case "check":
		return check(ctx, rest, stdout, stderr)
	case "keys":
		if err := keys.Command(rest, stdout, stderr); err != nil {
			printf(stderr, "keyveil: %v\n", err)
			return 1
		}
		return 0
	case "secrets":
		if err := keychain.Command(rest, stdin, stdout, stderr, credentials.CheckKey); err != nil {
			printf(stderr, "keyveil: %v\n", err)
			return 1
		}
		return 0
	case "openapi":
		if err := openapi.Command(rest, stdout, stderr); err != nil {
			printf(stderr, "keyveil openapi: %v\n", err)
			return 1
		}
		return 0
	case "version":
		return printVersion(stdout)
	case "help":
		// The same as keyveil --help: usage and serve's options.
		return serve(ctx, []string{"--help"}, stdin, stdout, stderr)
	}
	printf(stderr, "keyveil: unknown command %q; the commands are %s (run keyveil --help for usage)\n", shorten(cmd, 40), strings.Join(commands, ", "))
	return 2
}
