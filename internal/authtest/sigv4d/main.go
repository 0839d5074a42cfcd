// The sigv4d command serves the [authtest.SigV4] verifier on a loopback
// port for the end-to-end tests (e2e/test/sigv4.test.mjs), which drive
// keyveil with the official TypeScript SDK client and need a service that
// checks AWS signatures as AWS would. It is a test fixture, not part of
// keyveil.
//
//	SIGV4D_ACCESS_KEY_ID=... SIGV4D_SECRET_ACCESS_KEY=... [SIGV4D_SESSION_TOKEN=...] \
//	  sigv4d -region us-east-1 -service execute-api
//
// It writes its base URL (http://127.0.0.1:PORT) as one line to stdout and
// serves until its stdin closes. A verified request is answered like a
// careless API that echoes everything: method, path, query, body and every
// request header, Authorization and X-Amz-Security-Token included, so a
// test can check that keyveil keeps them from the model. A refused one
// gets 403 with the reason, quoting the canonical request as AWS does.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"

	"github.com/keyveil/keyveil/internal/authtest"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "sigv4d:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	region, service := "us-east-1", "execute-api"
	for i := 0; i+1 < len(args); i += 2 {
		switch args[i] {
		case "-region":
			region = args[i+1]
		case "-service":
			service = args[i+1]
		default:
			return fmt.Errorf("unknown flag %s; use -region R -service S", args[i])
		}
	}
	id, secret := os.Getenv("SIGV4D_ACCESS_KEY_ID"), os.Getenv("SIGV4D_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return errors.New("set SIGV4D_ACCESS_KEY_ID and SIGV4D_SECRET_ACCESS_KEY")
	}
	v := &authtest.SigV4{
		Region:  region,
		Service: service,
		Keys:    map[string]authtest.SigV4Key{id: {Secret: secret, Token: os.Getenv("SIGV4D_SESSION_TOKEN")}},
		Next:    http.HandlerFunc(echo),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	if _, err := fmt.Fprintf(os.Stdout, "http://%s\n", ln.Addr()); err != nil {
		return err
	}
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	return http.Serve(ln, v)
}

// echo answers a verified request with all of it, as a debugging endpoint
// of a real API might.
func echo(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"verified": true,
		"method":   r.Method,
		"path":     r.URL.EscapedPath(),
		"query":    r.URL.RawQuery,
		"headers":  r.Header,
		"body":     string(body),
	})
}
