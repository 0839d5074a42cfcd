package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyveil/keyveil/state/statetest"
)

// replica is one `keyveil serve --http` process.
type replica struct {
	cmd    *exec.Cmd
	addr   string
	mu     sync.Mutex
	stderr strings.Builder
}

func (r *replica) logs() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stderr.String()
}

var listening = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startReplica runs keyveil serve --http on a free loopback port with env
// added to a clean environment, and waits until it listens. It is stopped
// with the test.
func startReplica(t *testing.T, env []string, args ...string) *replica {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"serve", "--http", "127.0.0.1:0"}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{cmd: cmd}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			r.mu.Lock()
			r.stderr.WriteString(line + "\n")
			r.mu.Unlock()
			if m := listening.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		close(addr)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatalf("keyveil exited before listening:\n%s", r.logs())
		}
		r.addr = a
	case <-time.After(15 * time.Second):
		t.Fatalf("keyveil did not listen within 15 s:\n%s", r.logs())
	}
	return r
}

// newKeysFile creates a key registry with one key and returns its path
// and the key.
func newKeysFile(t *testing.T, args ...string) (path, key string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "keys.json")
	out, err := exec.Command(binPath, append([]string{"keys", "create", "--name", "agent", "--keys", path}, args...)...).Output()
	if err != nil {
		t.Fatalf("keys create: %v", err)
	}
	m := regexp.MustCompile(`kv_\S+`).FindString(string(out))
	if m == "" {
		t.Fatalf("keys create printed no key: %q", out)
	}
	return path, m
}

// TestServeStatePassword: the Redis password, from the URL or from
// KEYVEIL_STATE_PASSWORD_FILE, never reaches keyveil's output, which
// names the server as host:port/db only.
func TestServeStatePassword(t *testing.T) {
	const pw = "sk-test-LEAKCHECK-redis-pw"
	redis := statetest.StartWith(t, "--requirepass", pw)
	keysPath, _ := newKeysFile(t)
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"MCP_API_KEY=" + fakeKey, "MCP_API_BASE_URL=http://127.0.0.1:9", "KEYVEIL_KEYS=" + keysPath, "KEYVEIL_LOG_LEVEL=debug"}
	tests := []struct {
		name      string
		env       []string
		reachable bool
	}{
		{"password in the URL", []string{"KEYVEIL_STATE=redis://:" + pw + "@" + redis.Addr() + "/0"}, true},
		{"password in a file", []string{"KEYVEIL_STATE=redis://" + redis.Addr() + "/0", "KEYVEIL_STATE_PASSWORD_FILE=" + pwFile}, true},
		{"wrong password", []string{"KEYVEIL_STATE=redis://:wrong-" + pw + "@" + redis.Addr() + "/0"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := startReplica(t, append(base, tc.env...))
			logs := r.logs()
			want := "shared state\" state=redis://" + redis.Addr() + "/0"
			if !tc.reachable {
				want = "shared state not reachable yet"
			}
			if !strings.Contains(logs, want) {
				t.Errorf("start-up log does not say %q:\n%s", want, logs)
			}
			if strings.Contains(logs, pw) {
				t.Errorf("the Redis password is in keyveil's output:\n%s", logs)
			}
		})
	}
}
