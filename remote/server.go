package remote

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ListenAndServe serves /mcp and /healthz on opts.Addr until ctx is
// cancelled, then shuts down: new connections are refused, open event
// streams are ended, in-flight requests get opts.ShutdownTimeout to finish,
// and last-used times are written to the key registry. It returns nil after
// a shutdown caused by ctx, and an error if the server could not start.
//
// It refuses a non-loopback address unless TLS is configured or
// opts.InsecurePublic is set, since the API keys travel in every request.
func ListenAndServe(ctx context.Context, opts *Options) error {
	o, err := opts.withDefaults()
	if err != nil {
		return err
	}
	public, err := checkBind(o)
	if err != nil {
		return err
	}
	h, err := newHandler(o)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(10*time.Second, o.ReadTimeout),
		ReadTimeout:       o.ReadTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
	}
	if o.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			return fmt.Errorf("loading TLS certificate: %w", err)
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	srv.RegisterOnShutdown(h.stopStreams)

	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.Addr, err)
	}
	if public && o.TLSCert == "" {
		o.Logger.Warn("INSECURE: serving MCP over plain HTTP on a non-loopback address; API keys cross the network in cleartext. Use --tls-cert/--tls-key, or listen on 127.0.0.1 behind a TLS proxy",
			"addr", ln.Addr().String())
	}
	scheme := "http"
	if o.TLSCert != "" {
		scheme = "https"
	}
	o.Logger.Info("serving MCP over Streamable HTTP", "url", scheme+"://"+ln.Addr().String()+"/mcp",
		"keys", o.Keys.Path(), "protect_all", o.ProtectAll)
	if o.OnListen != nil {
		o.OnListen(ln.Addr())
	}

	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(flushInterval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				flush(o)
			case <-ctx.Done():
				sctx, cancel := context.WithTimeout(context.Background(), o.ShutdownTimeout)
				if err := srv.Shutdown(sctx); err != nil {
					o.Logger.Warn("shutdown timed out; closing remaining connections", "err", err)
					srv.Close()
				}
				cancel()
				flush(o)
				return
			case <-done:
				return
			}
		}
	}()

	if o.TLSCert != "" {
		err = srv.ServeTLS(ln, "", "")
	} else {
		err = srv.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		<-stopped
		return nil
	}
	close(done)
	<-stopped
	return fmt.Errorf("serving on %s: %w", o.Addr, err)
}

// flush writes last-used times to the registry, logging rather than
// failing: a read-only registry should not take the server down.
func flush(o *Options) {
	if err := o.Keys.Flush(); err != nil {
		o.Logger.Warn("writing last-used times to the key registry", "err", err)
	}
}

// checkBind applies the bind rule and reports whether the address reaches
// beyond this machine.
func checkBind(o *Options) (public bool, err error) {
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return false, fmt.Errorf("listen address %q: want host:port, like %s", o.Addr, DefaultAddr)
	}
	if isLoopback(host) {
		return false, nil
	}
	if o.TLSCert == "" && !o.InsecurePublic {
		return true, fmt.Errorf("refusing to listen on %s without TLS: API keys would cross the network in cleartext; "+
			"pass --tls-cert and --tls-key, or listen on 127.0.0.1 behind a TLS proxy, or pass --insecure-public to accept the risk", o.Addr)
	}
	return true, nil
}
