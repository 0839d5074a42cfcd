// Package statetest starts a throwaway redis-server for tests, so that
// `go test` needs no Redis set up beforehand: only the redis-server binary
// (scripts/test.sh installs it).
package statetest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Server is a redis-server on a free loopback port, with nothing saved to
// disk. It is stopped when the test ends.
type Server struct {
	t    testing.TB
	Port int
	cmd  *exec.Cmd
	dir  string
	args []string
}

// Start starts a redis-server, or skips the test with a message when the
// binary is missing and KEYVEIL_REQUIRE_REDIS is not set. scripts/test.sh
// sets it, so CI fails instead of skipping.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t)
}

// StartWith is Start with more redis-server arguments, such as
// "--requirepass", "PW".
func StartWith(t testing.TB, args ...string) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("KEYVEIL_REQUIRE_REDIS") != "" {
			t.Fatal("redis-server not found and KEYVEIL_REQUIRE_REDIS is set")
		}
		t.Skip("redis-server not installed (apt-get install redis-server); scripts/test.sh installs it")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &Server{t: t, Port: port, dir: t.TempDir(), args: args}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

// URL is the --state value for the server, database 0.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

func (s *Server) start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--logfile", filepath.Join(s.dir, "redis.log"))
	s.cmd.Args = append(s.cmd.Args, s.args...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server: %v", err)
	}
	for i := 0; i < 200; i++ {
		c, err := net.DialTimeout("tcp", s.Addr(), 100*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	s.t.Fatalf("redis-server did not listen on %s:\n%s", s.Addr(), log)
}

// Stop kills the server (data is lost, as after a crash). Stopping a
// stopped server does nothing.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server again on the same port, empty.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// String is for messages.
func (s *Server) String() string { return fmt.Sprintf("redis-server on %s", s.Addr()) }
