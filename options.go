package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/caarlos0/env/v11"
)

// options are the settings shared by serve and check. Each has a flag and an
// environment variable; the flag wins.
type options struct {
	Config   string `env:"KEYVEIL_CONFIG"`
	EnvFile  string `env:"KEYVEIL_ENV_FILE"`
	ReadOnly string `env:"KEYVEIL_READ_ONLY"`
	AuditLog string `env:"KEYVEIL_AUDIT_LOG"`
	LogLevel string `env:"KEYVEIL_LOG_LEVEL"`

	// Streamable HTTP mode (serve only).
	HTTP           string `env:"KEYVEIL_HTTP"`
	Keys           string `env:"KEYVEIL_KEYS"`
	TLSCert        string `env:"KEYVEIL_TLS_CERT"`
	TLSKey         string `env:"KEYVEIL_TLS_KEY"`
	InsecurePublic string `env:"KEYVEIL_INSECURE_PUBLIC"`
	AllowedOrigins string `env:"KEYVEIL_ALLOWED_ORIGINS"`
	AllowedHosts   string `env:"KEYVEIL_ALLOWED_HOSTS"`
	ProtectAll     string `env:"KEYVEIL_PROTECT_ALL"`
	Rate           string `env:"KEYVEIL_RATE"`
	State          string `env:"KEYVEIL_STATE"`
	Metrics        string `env:"KEYVEIL_METRICS"`

	readOnly       bool
	ping           bool
	insecurePublic bool
	protectAll     bool
}

// commands are keyveil's subcommands, as run dispatches them.
var commands = []string{"serve", "check", "keys", "openapi", "version", "help"}

// helpRequest is the parseOptions error for -h and --help: not a failure,
// the caller prints the usage and the command's flags to stdout.
type helpRequest struct{ flags string }

func (*helpRequest) Error() string { return "help requested" }

// errVersionFlag is the parseOptions error for --version and -v.
var errVersionFlag = errors.New("version requested")

// optionsExit reports what parseOptions returned for cmd and returns the
// exit code: help and version go to stdout with 0; anything else is an
// option error, printed to stderr with its fix, with 2. A host shows only
// the exit of a server that ends before it answers, so a silent 2 leaves
// its user with nothing to go on.
func optionsExit(cmd string, err error, stdout, stderr io.Writer) int {
	var help *helpRequest
	switch {
	case errors.As(err, &help):
		usage(stdout)
		printf(stdout, "\nOptions of keyveil %s (most also read from the KEYVEIL_* variable named):\n%s", cmd, help.flags)
		return 0
	case errors.Is(err, errVersionFlag):
		return printVersion(stdout)
	}
	printf(stderr, "keyveil %s: %v\n", cmd, err)
	return 2
}

// parseOptions reads the KEYVEIL_* environment, then the flags over it.
// withPing adds check's --ping flag. Its errors say what is wrong and how
// to fix it; -h and --help return a *helpRequest, --version and -v
// errVersionFlag (see optionsExit).
func parseOptions(name string, args []string, withPing bool) (*options, error) {
	var o options
	// Every field is a string, so env/v11 reports no value-quoting parse
	// errors; booleans are parsed below with messages of our own.
	if err := env.Parse(&o); err != nil {
		return nil, fmt.Errorf("reading KEYVEIL_* variables: %w", err)
	}
	for _, b := range []struct {
		name string
		raw  string
		dst  *bool
	}{
		{"KEYVEIL_READ_ONLY", o.ReadOnly, &o.readOnly},
		{"KEYVEIL_INSECURE_PUBLIC", o.InsecurePublic, &o.insecurePublic},
		{"KEYVEIL_PROTECT_ALL", o.ProtectAll, &o.protectAll},
	} {
		if b.raw == "" {
			continue
		}
		v, err := strconv.ParseBool(b.raw)
		if err != nil {
			got := ""
			if len(b.raw) <= 16 {
				got = fmt.Sprintf(", not %q", b.raw)
			}
			return nil, fmt.Errorf("%s must be true or false%s; set it to true or false (or 1 or 0), or unset it", b.name, got)
		}
		*b.dst = v
	}
	fs := flag.NewFlagSet("keyveil "+name, flag.ContinueOnError)
	// Errors and help are printed by optionsExit, with a fix and to the
	// right stream; the flag package would print its own usage to stderr.
	fs.SetOutput(io.Discard)
	var showVersion bool
	fs.BoolVar(&showVersion, "version", false, "print the version and exit")
	fs.BoolVar(&showVersion, "v", false, "print the version and exit")
	fs.StringVar(&o.Config, "config", o.Config, "services and tools `file` (YAML); env KEYVEIL_CONFIG")
	fs.StringVar(&o.EnvFile, "env-file", o.EnvFile, "dotenv `file` to read; the real environment wins; env KEYVEIL_ENV_FILE")
	fs.BoolVar(&o.readOnly, "read-only", o.readOnly, "offer only calls without side effects (GET, HEAD); env KEYVEIL_READ_ONLY")
	fs.StringVar(&o.AuditLog, "audit-log", o.AuditLog, "append the JSON-lines audit to `file` (mode 0600); default stderr; env KEYVEIL_AUDIT_LOG")
	fs.StringVar(&o.LogLevel, "log-level", o.LogLevel, "debug, info, warn or error; env KEYVEIL_LOG_LEVEL")
	if withPing {
		fs.BoolVar(&o.ping, "ping", false, "make one authenticated GET request to each service's base URL")
	} else {
		fs.StringVar(&o.HTTP, "http", o.HTTP, "serve Streamable HTTP on `addr` (like 127.0.0.1:8787) instead of stdio; env KEYVEIL_HTTP")
		fs.StringVar(&o.Keys, "keys", o.Keys, "API key registry `file` for --http (see keyveil keys); env KEYVEIL_KEYS")
		fs.StringVar(&o.TLSCert, "tls-cert", o.TLSCert, "TLS certificate `file` for --http; env KEYVEIL_TLS_CERT")
		fs.StringVar(&o.TLSKey, "tls-key", o.TLSKey, "TLS private key `file` for --http; env KEYVEIL_TLS_KEY")
		fs.BoolVar(&o.insecurePublic, "insecure-public", o.insecurePublic, "allow plain HTTP on a non-loopback address; env KEYVEIL_INSECURE_PUBLIC")
		fs.StringVar(&o.AllowedOrigins, "allowed-origins", o.AllowedOrigins, "comma-separated browser `origins` allowed to call --http; env KEYVEIL_ALLOWED_ORIGINS")
		fs.StringVar(&o.AllowedHosts, "allowed-hosts", o.AllowedHosts, "comma-separated Host `names` a reverse proxy forwards; env KEYVEIL_ALLOWED_HOSTS")
		fs.BoolVar(&o.protectAll, "protect-all", o.protectAll, "require a key on every route, not only /mcp; env KEYVEIL_PROTECT_ALL")
		fs.StringVar(&o.Rate, "rate", o.Rate, "default per-key `rate` like 60/min for keys created without one; env KEYVEIL_RATE")
		fs.StringVar(&o.Metrics, "metrics", o.Metrics, "also serve Prometheus /metrics without a key on loopback `addr` like 127.0.0.1:9464 (with --http, /metrics is always served to valid keys); env KEYVEIL_METRICS")
		fs.StringVar(&o.State, "state", o.State, "share rate limits, idempotency and confirmations with other replicas in Redis at `url` redis://HOST:PORT/DB (rediss:// for TLS); env KEYVEIL_STATE, password also KEYVEIL_STATE_PASSWORD[_FILE]")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			var b strings.Builder
			fs.SetOutput(&b)
			fs.PrintDefaults()
			return nil, &helpRequest{flags: b.String()}
		}
		return nil, fmt.Errorf("%v; run keyveil %s --help for the options", err, name)
	}
	if showVersion {
		return nil, errVersionFlag
	}
	if fs.NArg() > 0 {
		extra := fs.Arg(0)
		if slices.Contains(commands, extra) {
			given := args[:len(args)-fs.NArg()]
			return nil, fmt.Errorf("%q is a command, and options go after it, not before: run keyveil %s", extra, strings.Join(append([]string{extra}, given...), " "))
		}
		return nil, fmt.Errorf("unexpected argument %q: keyveil %s takes options only (like --config FILE); run keyveil %s --help for them", shorten(extra, 40), name, name)
	}
	return &o, nil
}

// shorten cuts s to at most n bytes for a message.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

func usage(w io.Writer) {
	printf(w, `keyveil lets a language model call HTTP APIs with keys it never sees.

Usage:
  keyveil [serve] [options]   run the MCP server on stdin/stdout
  keyveil check [--ping]      explain the configuration and say whether it will work
  keyveil openapi FILE [--operations a,tag:b,*]
                              print the tools an OpenAPI document would become
  keyveil version             print the version
  keyveil serve --http ADDR --keys FILE
                              serve Streamable HTTP to remote agents (see README)
  keyveil keys create --name NAME [--scopes a,b] [--expires 90d] [--rate 60/min] [--keys FILE]
  keyveil keys list [--json] | revoke ID | rotate ID [--overlap 24h]
  keyveil secrets set NAME --origin URL | list | delete NAME
                              keep keys in the OS keychain; use MCP_API_KEY=keychain:NAME

Options (flag, then environment variable):
  --config FILE     KEYVEIL_CONFIG     services and tools file (YAML)
  --env-file FILE   KEYVEIL_ENV_FILE   dotenv file; the real environment wins over it
  --read-only       KEYVEIL_READ_ONLY  offer only GET and HEAD
  --audit-log FILE  KEYVEIL_AUDIT_LOG  JSON-lines audit (default stderr)
  --log-level LEVEL KEYVEIL_LOG_LEVEL  debug, info, warn, error (default info)

Zero-config service "api": MCP_API_KEY (or MCP_API_KEY_FILE, or keychain:NAME), MCP_API_BASE_URL,
MCP_API_AUTH (bearer | header:NAME | query:NAME | basic | none), MCP_API_ALLOW,
MCP_API_SCOPES. See README.md.
`)
}

// printf writes to a command's own output stream. It exists so that the one
// place that formats user-facing text is easy to find; w is always a
// redacting writer or a stream no secret has reached yet.
func printf(w io.Writer, format string, a ...any) {
	_, _ = fmt.Fprintf(w, format, a...)
}
