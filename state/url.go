package state

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// target is a parsed --state URL. Its errors never quote the URL, which
// may hold the password.
type target struct {
	tls      bool
	addr     string // host:port
	db       int
	username string
	password string
}

// where names the server for logs and errors: host:port/db, never the
// user or the password.
func (t target) where() string {
	scheme := "redis"
	if t.tls {
		scheme = "rediss"
	}
	return scheme + "://" + t.addr + "/" + strconv.Itoa(t.db)
}

// errURLForm is the shape a --state value must have.
var errURLForm = errors.New("--state must look like redis://HOST:PORT/DB or rediss://HOST:PORT/DB (the password in the URL or in KEYVEIL_STATE_PASSWORD)")

// parseURL reads redis://[USER[:PASSWORD]@]HOST[:PORT][/DB] and the same
// with rediss:// for TLS. Query parameters are refused: the few settings
// that matter are fixed here, and an unknown one should not pass silently.
func parseURL(raw string) (target, error) {
	var t target
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		// url.Error quotes the whole URL, password included: drop it.
		return t, errURLForm
	}
	switch u.Scheme {
	case "redis":
	case "rediss":
		t.tls = true
	default:
		return t, errURLForm
	}
	if u.Host == "" || u.Opaque != "" || u.RawQuery != "" || u.Fragment != "" {
		return t, errURLForm
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return t, errURLForm
	}
	if port == "" {
		port = "6379"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return t, errURLForm
	}
	t.addr = net.JoinHostPort(host, port)
	if p := strings.Trim(u.Path, "/"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 15 {
			return t, fmt.Errorf("--state database must be a number from 0 to 15 (redis://HOST:PORT/DB)")
		}
		t.db = n
	}
	if u.User != nil {
		t.username = u.User.Username()
		t.password, _ = u.User.Password()
		if t.username != "" && t.password == "" {
			// redis://SECRET@host: a password without a user is the common
			// way to write it; treat it so, never as a user name to log.
			t.password, t.username = t.username, ""
		}
	}
	return t, nil
}

// options are the go-redis options for t. Timeouts are short: a decision
// waits on Redis before every guarded call, and an unreachable Redis must
// turn into a clear refusal within a second, not a hung tool call.
func (t target) options() *redis.Options {
	o := &redis.Options{
		Addr:            t.addr,
		DB:              t.db,
		Username:        t.username,
		Password:        t.password,
		DialTimeout:     500 * time.Millisecond,
		ReadTimeout:     500 * time.Millisecond,
		WriteTimeout:    500 * time.Millisecond,
		MaxRetries:      1, // a pooled connection that died with a Redis restart
		DialerRetries:   1, // down is down: say so within a second
		PoolTimeout:     time.Second,
		MinRetryBackoff: 10 * time.Millisecond,
		MaxRetryBackoff: 50 * time.Millisecond,
		// Identify is a RESP3 handshake nicety; older servers log errors.
		DisableIdentity: true,
	}
	if t.tls {
		host, _, _ := net.SplitHostPort(t.addr)
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	}
	return o
}
