package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/keyveil/keyveil/config"
	"github.com/keyveil/keyveil/credentials"
	"github.com/keyveil/keyveil/hostconfig"
	"github.com/keyveil/keyveil/metrics"
	"github.com/keyveil/keyveil/openapi"
	"github.com/keyveil/keyveil/stdio"
	"github.com/keyveil/keyveil/tools"
)

// instructions tell the model how to use keyveil's tools; hosts show them
// to the model at the start of a session.
const instructions = `keyveil calls HTTP APIs for you with credentials you never see and cannot set.
Call list_services first to learn each service's base URL, allow rules and docs,
then call_api with a path relative to that base URL. Refusals say what to change.`

// app is everything serve and check build from the options, in start-up
// order. Once credentials are loaded, stderr is the redacting writer.
type app struct {
	opts   *options
	env    *credentials.Env
	cfg    *config.Config
	set    *credentials.Set
	red    *credentials.Redactor
	stderr *credentials.Writer
	logger *slog.Logger
	client *http.Client
	// guards hold rate buckets, replay memory and confirmation nonces. One
	// per process, so every server built for a remote key's scopes shares
	// the same limits and memory.
	guards *tools.Guards
	// metrics counts calls in HTTP mode; nil: none (stdio).
	metrics *metrics.Metrics
}

// load reads the environment, the configuration and the credentials, and
// returns the first problem as an error that names the variable and the fix.
func load(opts *options, stderr io.Writer) (*app, error) {
	level, err := parseLevel(opts.LogLevel)
	if err != nil {
		return nil, err
	}
	env, err := credentials.ReadEnv(opts.EnvFile)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(opts.Config, env.Lookup)
	// Now that the key variables' names are known (nil cfg: the usual
	// ones), their values leave the initial environment block, which
	// /proc/PID/environ and ps eww show. Go's copy, read below, stays.
	proc.Scrub(credentials.SecretVars(cfg))
	if err != nil {
		return nil, &configError{err: err, cfg: cfg, env: env}
	}
	if err := openapi.Expand(cfg, nil); err != nil {
		return nil, &configError{err: err, cfg: cfg, env: env}
	}
	set, err := credentials.Load(cfg, env)
	if err != nil {
		return nil, err
	}
	red := set.Redactor()
	guarded := red.NewWriter(stderr)
	// The standard log package writes to os.Stderr on its own, and net/http
	// uses it: "Unsolicited response received on idle HTTP channel"
	// quotes the bytes an API sent, which can carry the key. From here on
	// it goes through the redactor like every other line.
	log.SetOutput(guarded)
	a := &app{
		opts:   opts,
		env:    env,
		cfg:    cfg,
		set:    set,
		red:    red,
		stderr: guarded,
		logger: slog.New(slog.NewTextHandler(guarded, &slog.HandlerOptions{Level: level})),
		client: credentials.NewTransport(set, cfg, &credentials.TransportOptions{ReadOnly: opts.readOnly}).Client(),
		guards: tools.NewGuards(),
	}
	return a, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if s == "" {
		return slog.LevelInfo, nil
	}
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, errors.New("log level must be debug, info, warn or error")
	}
	return l, nil
}

// deps builds the tools' dependencies. audit may be nil. keyScopes are the
// scopes of a remote agent's key (nil: none of its own, or stdio mode): a
// key may narrow the deployment's grant (MCP_API_SCOPES), never widen it.
func (a *app) deps(audit *tools.Auditor, keyScopes []string) tools.Deps {
	var scopes []string // nil: tools use cfg.Scopes
	if keyScopes != nil {
		scopes = []string{} // non-nil even when empty, or tools would fall back
		for _, s := range keyScopes {
			if slices.Contains(a.cfg.Scopes, s) {
				scopes = append(scopes, s)
			}
		}
	}
	fps := map[string]string{}
	for _, s := range a.cfg.Services {
		fps[s.Name] = a.set.Fingerprint(s.Name)
	}
	redact, redactUpstream := a.red.Redact, a.red.RedactFragments
	if a.metrics != nil {
		redact, redactUpstream = a.countingRedact, a.countingFragments
	}
	return tools.Deps{
		Config:         a.cfg,
		Client:         a.client,
		Redact:         redact,
		RedactUpstream: redactUpstream,
		Cut:            a.red.Cut,
		Lookahead:      a.red.Lookahead,
		Audit:          audit,
		Fingerprints:   fps,
		ReadOnly:       a.opts.readOnly,
		Scopes:         scopes,
		Guards:         a.guards,
		Logger:         a.logger,
	}
}

// newServer returns the MCP server with keyveil's tools registered, for a
// caller holding keyScopes (see deps). The SDK's own session chatter is
// logged only at debug level, its warnings always, so the default stderr
// shows keyveil's lines, not the SDK's.
func (a *app) newServer(audit *tools.Auditor, keyScopes []string) *mcp.Server {
	sdkLog := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if a.logger.Enabled(context.Background(), slog.LevelDebug) {
		sdkLog = a.logger
	}
	s := mcp.NewServer(&mcp.Implementation{Name: "keyveil", Version: versionString()},
		&mcp.ServerOptions{Instructions: instructions, Logger: sdkLog})
	tools.Register(s, a.deps(audit, keyScopes))
	return s
}

// openAudit returns the audit destination: the guarded stderr, or the
// --audit-log file opened for append with mode 0600 and wrapped by the
// redactor. close flushes and closes it.
func (a *app) openAudit() (w io.Writer, close func() error, err error) {
	if a.opts.AuditLog == "" {
		return a.stderr, func() error { return nil }, nil
	}
	f, err := os.OpenFile(a.opts.AuditLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("opening audit log: %w", err)
	}
	// An existing file keeps its mode on open; tighten it, since the audit
	// names services, paths and key fingerprints. Only a regular file: a
	// device or pipe (--audit-log /dev/null, a FIFO a log collector reads)
	// is shared with the rest of the system, and run as root keyveil would
	// otherwise make /dev/null unwritable for every other user.
	if fi, err := f.Stat(); err != nil || fi.Mode().IsRegular() {
		if err == nil {
			err = f.Chmod(0o600)
		}
		if err != nil {
			_ = f.Close()
			return nil, nil, fmt.Errorf("setting audit log mode to 0600: %w", err)
		}
	}
	gw := a.red.NewWriter(f)
	return gw, func() error {
		return errors.Join(gw.Close(), f.Close())
	}, nil
}

// hardStop bounds how long serve waits after SIGINT or SIGTERM: the
// transport's 5 s drain plus time to audit and flush.
const hardStop = 10 * time.Second

// serve runs the stdio MCP server until stdin ends or a signal arrives, and
// returns 0 after in-flight calls have finished and been audited.
func serve(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	opts, err := parseOptions("serve", args, false)
	if err != nil {
		return optionsExit("serve", err, stdout, stderr)
	}
	if opts.Metrics != "" && opts.HTTP == "" {
		printf(stderr, "keyveil: --metrics (KEYVEIL_METRICS) needs --http: a stdio server's numbers belong to its one client\n")
		return 2
	}
	if opts.State != "" && opts.HTTP == "" {
		printf(stderr, "keyveil: --state (KEYVEIL_STATE) shares limits between HTTP replicas; it needs --http, since a stdio server is one process for one client\n")
		return 2
	}
	started := relaxGC()
	defer started()
	// Stdio mode drains on SIGINT and SIGTERM (below). Registering for
	// them starts alongside load, which it does not depend on.
	var sigs chan os.Signal
	var notified <-chan struct{}
	if opts.HTTP == "" {
		sigs = make(chan os.Signal, 1)
		notified = notifyEarly(sigs)
		defer func() {
			<-notified
			signal.Stop(sigs)
		}()
	}
	a, err := load(opts, stderr)
	if err != nil {
		printf(stderr, "keyveil: %v\n", err)
		return 1
	}
	defer a.stderr.Close()
	auditW, closeAudit, err := a.openAudit()
	if err != nil {
		a.logger.Error("cannot start", "error", err)
		return 1
	}
	defer closeAudit()

	for _, w := range a.warnings() {
		a.logger.Warn(w)
	}
	a.logger.Info("keyveil ready", "version", versionString(), "services", serviceSummary(a),
		"read_only", opts.readOnly, "audit", auditName(opts))
	// Reading the hosts' config files takes milliseconds with a large
	// ~/.claude.json; the host's first request does not wait for it. serve
	// waits for it before closing stderr.
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		a.warnPlainText(hostconfig.Dirs{})
	}()
	defer func() { <-scanned }()

	if opts.HTTP != "" {
		started()
		return serveHTTP(ctx, a, auditW)
	}

	stop := make(chan struct{})
	<-notified // before the first request: from here a signal drains
	go func() {
		select {
		case sig := <-sigs:
			a.logger.Info("stopping after in-flight calls", "signal", sig.String())
			close(stop)
			// The transport ends the session after its drain bound, but
			// the SDK then waits for every handler to return. Ours are
			// bounded by per-service timeouts; this is the backstop, and a
			// second signal ends things at once.
			select {
			case <-sigs:
			case <-time.After(hardStop):
			}
			a.logger.Error("in-flight calls did not finish; exiting")
			// os.Exit skips the deferred closes: flush what the guarded
			// writers still hold, so the last audit lines are not lost.
			_ = closeAudit()
			_ = a.stderr.Close()
			os.Exit(1)
		case <-ctx.Done():
		}
	}()

	server := a.newServer(tools.NewAuditor(auditW), nil)
	started()
	t := &stdio.Transport{In: stdin, Out: stdout, Redact: a.red.Redact, Stop: stop, Logger: a.logger}
	if err := server.Run(ctx, t); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, mcp.ErrConnectionClosed) {
		a.logger.Error("session ended", "error", err)
		return 1
	}
	a.logger.Info("keyveil stopped")
	return 0
}

// notifyEarly relays SIGINT and SIGTERM to sigs, registering on a goroutine
// of its own, and returns a channel closed once they are registered. A
// process's first signal.Notify starts the runtime's signal-handling
// thread and waits for it to answer: 1 ms of a cold start's wall time on
// a busy machine (scripts/bench.sh), which now overlaps loading the
// configuration. Wait on the channel before serving: until then a signal
// has its default effect, as it had before serve reached signal.Notify.
func notifyEarly(sigs chan<- os.Signal) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	}()
	return done
}

// startupGCPercent is the garbage collector's target while serve starts.
// Start-up allocates in a burst that is garbage almost at once: for an
// OpenAPI import of 509 operations, 100 MB, most of it the SDK re-reading
// each tool's schemas in AddTool. Collecting every time the heap doubled
// cost 60 ms of CPU and 30 ms before the first reply there; collecting a
// quarter as often costs about 17 MB more peak memory, and nothing for a
// small configuration, whose start-up ends before the first collection.
const startupGCPercent = 400

// relaxGC raises the garbage collector's target for start-up, unless the
// operator chose one with GOGC, and returns the function that restores it
// (once; later calls do nothing).
func relaxGC() (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	old := debug.SetGCPercent(startupGCPercent)
	return sync.OnceFunc(func() { debug.SetGCPercent(old) })
}

// serviceSummary names each service and the variable its key came from —
// never a value — for the start-up log line.
func serviceSummary(a *app) string {
	var parts []string
	for _, c := range a.set.Credentials() {
		p := c.Service + "(" + c.Scheme()
		for _, k := range c.Keys {
			p += " " + k.Secret.Name() + " from " + string(k.Source)
		}
		parts = append(parts, p+")")
	}
	return strings.Join(parts, " ")
}

func auditName(o *options) string {
	if o.AuditLog == "" {
		return "stderr"
	}
	return o.AuditLog
}
