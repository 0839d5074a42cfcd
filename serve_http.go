package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/keyveil/keyveil/keys"
	"github.com/keyveil/keyveil/remote"
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
	auditor := tools.NewAuditor(auditW)
	var mu sync.Mutex // access records share the audit writer with tool records
	enc := json.NewEncoder(auditW)

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err = remote.ListenAndServe(ctx, &remote.Options{
		Addr:      o.HTTP,
		Keys:      reg,
		NewServer: func(scopes []string) *mcp.Server { return a.newServer(auditor, scopes) },
		Logger:    a.logger,
		Audit: func(r remote.AccessRecord) {
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
		OnListen:       func(addr net.Addr) { a.logger.Info("listening", "addr", addr.String()) },
	})
	if err != nil {
		a.logger.Error("cannot serve", "error", err)
		return 1
	}
	a.logger.Info("keyveil stopped")
	return 0
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
