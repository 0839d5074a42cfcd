package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/keyveil/keyveil/metrics"
	"github.com/keyveil/keyveil/tools"
)

// newMetrics builds the metrics for the configured tools and services,
// and routes the upstream client through their timer. Call it before any
// MCP server is built: servers capture the client and the redact func.
func (a *app) newMetrics() *metrics.Metrics {
	names := []string{"call_api", "list_services"}
	for _, t := range a.cfg.Tools {
		names = append(names, t.Name)
	}
	var services []string
	origins := map[string]string{}
	for _, s := range a.cfg.Services {
		services = append(services, s.Name)
		if u, err := url.Parse(s.BaseURL); err == nil {
			origins[originOf(u)] = s.Name
		}
	}
	m := metrics.New(&metrics.Options{Tools: names, Services: services})
	c := *a.client
	c.Transport = m.Transport(a.client.Transport, func(r *http.Request) string { return origins[originOf(r.URL)] })
	a.client = &c
	a.metrics = m
	return m
}

// originOf is scheme://host:port with the default port written out.
func originOf(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	return u.Scheme + "://" + net.JoinHostPort(u.Hostname(), port)
}

// observeRecord counts a tool call's audit record: the call, and the
// secrets keyveil does not hold that were redacted from its result, by
// the detector's kind (held keys are counted as they are redacted, see
// countMarkers).
func (a *app) observeRecord(r tools.Record) {
	a.metrics.ToolCall(r.Tool, r.Service, r.Outcome)
	for kind, n := range r.Redacted {
		a.metrics.Redacted(kind, n)
	}
}

// redactMarker starts every marker the redactor writes.
var redactMarker = []byte("[REDACTED:")

// countingRedact is the redactor's Redact, counting the markers it adds
// to tool results as held_secret redactions (markers already in the
// input are not counted).
func (a *app) countingRedact(p []byte) []byte {
	out := a.red.Redact(p)
	a.countMarkers(p, out)
	return out
}

// countingFragments is RedactFragments (upstream bodies), counted alike.
func (a *app) countingFragments(p []byte, sent [][]byte) []byte {
	out := a.red.RedactFragments(p, sent)
	a.countMarkers(p, out)
	return out
}

// countMarkers counts the markers out has beyond those in p. The
// redactor returns p itself when it found nothing: that costs nothing.
func (a *app) countMarkers(p, out []byte) {
	if len(out) == len(p) && (len(p) == 0 || &out[0] == &p[0]) {
		return
	}
	a.metrics.Redacted("held_secret", bytes.Count(out, redactMarker)-bytes.Count(p, redactMarker))
}

// serveMetrics serves /metrics without a key on a loopback address until
// ctx ends: for a Prometheus on the same host or in the same pod. A
// non-loopback address is refused, since the numbers describe every
// client's traffic.
func serveMetrics(ctx context.Context, a *app, addr string, h http.Handler) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--metrics %q: want host:port, like 127.0.0.1:9464", addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--metrics %s: serves without a key, so only on a loopback address (127.0.0.1:PORT); with --http, /metrics is also served to valid keys", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening for --metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.logger.Warn("metrics listener stopped", "error", err)
		}
	}()
	a.logger.Info("serving Prometheus metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return nil
}
