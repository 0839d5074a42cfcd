package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/url"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/keyveil/keyveil/credentials"
	"github.com/keyveil/keyveil/keys"
	"github.com/keyveil/keyveil/remote"
	"github.com/keyveil/keyveil/state"
	"github.com/keyveil/keyveil/tools"
)

// serveHTTP runs Streamable HTTP mode until SIGINT or SIGTERM, serving the
// same tools as stdio mode to agents that present a key from the registry.
// Nothing is written to stdout in this mode.
func serveHTTP(ctx context.Context, a *app, auditW io.Writer) int {
	o := a.opts
	if o.Keys == "" {
		a.logger.Error("cannot start: --http needs --keys FILE (or KEYVEIL_KEYS); create one with: keyveil keys create --name NAME --keys FILE")
		return 1
	}
	reg, err := keys.Open(o.Keys, &keys.Options{Logger: a.logger})
	if err != nil {
		a.logger.Error("cannot start", "error", err)
		return 1
	}
	rate, err := keys.ParseRate(o.Rate)
	if err != nil {
		a.logger.Error("cannot start", "error", err)
		return 1
	}
	m := a.newMetrics()
	shared, err := a.openState(ctx)
	if err != nil {
		a.logger.Error("cannot start", "error", err)
		return 1
	}
	if shared != nil {
		defer shared.Close()
		// Before any server is built: every one of them shares these.
		a.guards = tools.NewSharedGuards(shared)
	}
	auditor := tools.NewObservedAuditor(auditW, a.observeRecord)
	var mu sync.Mutex // access records share the audit writer with tool records
	enc := json.NewEncoder(auditW)

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if o.Metrics != "" {
		if err := serveMetrics(ctx, a, o.Metrics, m.Handler()); err != nil {
			a.logger.Error("cannot start", "error", err)
			return 1
		}
	}
	err = remote.ListenAndServe(ctx, &remote.Options{
		Addr:      o.HTTP,
		Keys:      reg,
		NewServer: func(scopes []string) *mcp.Server { return a.newServer(auditor, scopes) },
		Logger:    a.logger,
		Audit: func(r remote.AccessRecord) {
			m.Access(r.Outcome)
			mu.Lock()
			defer mu.Unlock()
			_ = enc.Encode(struct {
				Kind string `json:"kind"`
				remote.AccessRecord
			}{"http", r})
		},
		TLSCert:        o.TLSCert,
		TLSKey:         o.TLSKey,
		InsecurePublic: o.insecurePublic,
		AllowedOrigins: splitOrNil(o.AllowedOrigins),
		AllowedHosts:   splitOrNil(o.AllowedHosts),
		ProtectAll:     o.protectAll,
		DefaultRate:    rate,
		State:          shared,
		Metrics:        m.Handler(),
		OnListen:       func(addr net.Addr) { a.logger.Info("listening", "addr", addr.String()) },
	})
	if err != nil {
		a.logger.Error("cannot serve", "error", err)
		return 1
	}
	a.logger.Info("keyveil stopped")
	return 0
}

// openState connects to the --state Redis, or returns nil without
// --state. The password (in the URL, or KEYVEIL_STATE_PASSWORD[_FILE]) is
// taught to the redactor before anything could log it, and the server is
// named only as host:port/db. An unreachable Redis does not stop start-up
// (replicas often start before it): calls that need it are refused with a
// retry hint until it answers.
func (a *app) openState(ctx context.Context) (*state.Redis, error) {
	if a.opts.State == "" {
		return nil, nil
	}
	if u, err := url.Parse(a.opts.State); err == nil && u.User != nil {
		pw, ok := u.User.Password()
		if !ok {
			pw = u.User.Username() // redis://PASSWORD@host
		}
		a.red.Add(credentials.NewSecret("KEYVEIL_STATE", pw))
	}
	pw, _, err := credentials.LoadNamed(a.env, "KEYVEIL_STATE_PASSWORD")
	if err != nil {
		return nil, err
	}
	a.red.Add(pw)
	// Reveal hands the password to the Redis client, which puts it on the
	// wire: the same role the Transport plays for a service's key.
	onError := func(string) {}
	if a.metrics != nil {
		onError = a.metrics.StateError
	}
	s, err := state.Open(&state.Options{URL: a.opts.State, Password: pw.Reveal(), OnError: onError})
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.Ping(pctx); err != nil {
		a.logger.Warn("shared state not reachable yet; calls that need it are refused until it is", "state", s.Where(), "cause", err.Error())
	} else {
		a.logger.Info("shared state", "state", s.Where())
	}
	return s, nil
}

// splitOrNil splits a comma-separated flag; unset gives nil so the remote
// package applies its documented default.
func splitOrNil(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
