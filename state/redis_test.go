package state

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyveil/keyveil/state/statetest"
)

// replicas opens n independent clients on one server, as n keyveil
// replicas would.
func replicas(t *testing.T, srv *statetest.Server, n int) []*Redis {
	t.Helper()
	var out []*Redis
	for range n {
		r, err := Open(&Options{URL: srv.URL()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		out = append(out, r)
	}
	return out
}

func TestParseURL(t *testing.T) {
	const pw = "sk-test-LEAKCHECK"
	tests := []struct {
		name, in  string
		where     string
		user, pwd string
		wantErr   bool
	}{
		{"plain", "redis://127.0.0.1:6379/2", "redis://127.0.0.1:6379/2", "", "", false},
		{"default port and db", "redis://redis", "redis://redis:6379/0", "", "", false},
		{"tls", "rediss://cache.internal:6380/0", "rediss://cache.internal:6380/0", "", "", false},
		{"password only", "redis://:" + pw + "@h:1/0", "redis://h:1/0", "", pw, false},
		{"password as user", "redis://" + pw + "@h:1/0", "redis://h:1/0", "", pw, false},
		{"user and password", "redis://kv:" + pw + "@h:1/3", "redis://h:1/3", "kv", pw, false},
		{"ipv6", "redis://[::1]:7000/1", "redis://[::1]:7000/1", "", "", false},
		{"other scheme", "http://" + pw + "@h:1", "", "", "", true},
		{"query", "redis://h:1/0?password=" + pw, "", "", "", true},
		{"bad db", "redis://:" + pw + "@h:1/x" + pw, "", "", "", true},
		{"db out of range", "redis://h:1/16", "", "", "", true},
		{"bad port", "redis://:" + pw + "@h:99999/0", "", "", "", true},
		{"unparseable", "redis://:" + pw + "@h:1/%zz", "", "", "", true},
		{"no host", "redis:///0", "", "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseURL(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parseURL(%q) = %+v, want an error", tc.in, got.where())
				}
				if strings.Contains(err.Error(), pw) {
					t.Fatalf("parseURL(%q) error %q quotes the password", tc.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseURL(%q): %v", tc.in, err)
			}
			if got.where() != tc.where || got.username != tc.user || got.password != tc.pwd {
				t.Errorf("parseURL(%q) = %s user %q password %q, want %s user %q password %q",
					tc.in, got.where(), got.username, got.password, tc.where, tc.user, tc.pwd)
			}
			if strings.Contains(got.where(), pw) {
				t.Errorf("where() = %q names the password", got.where())
			}
		})
	}
}

func TestOpenPasswordTwice(t *testing.T) {
	_, err := Open(&Options{URL: "redis://:a@h:1/0", Password: "b"})
	if err == nil || strings.Contains(err.Error(), "a@") {
		t.Fatalf("Open with two passwords: %v, want an error that quotes neither", err)
	}
}

// TestAllowFleetWide: replicas racing for one bucket admit exactly its
// burst, however the calls are spread over them.
func TestAllowFleetWide(t *testing.T) {
	srv := statetest.Start(t)
	rs := replicas(t, srv, 3)
	ctx := context.Background()
	tests := []struct {
		name  string
		limit Limit
		calls int
	}{
		{"burst 10", Limit{Key: "t:a", Events: 10, Per: time.Hour, Burst: 10}, 60},
		{"burst 1", Limit{Key: "t:b", Events: 1, Per: time.Hour, Burst: 1}, 30},
		{"burst above rate", Limit{Key: "t:c", Events: 2, Per: time.Hour, Burst: 7}, 30},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var admitted, refused atomic.Int64
			var wg sync.WaitGroup
			for i := range tc.calls {
				wg.Go(func() {
					wait, which, err := rs[i%len(rs)].Allow(ctx, []Limit{tc.limit}, false)
					switch {
					case err != nil:
						t.Error(err)
					case which < 0:
						admitted.Add(1)
					case wait <= 0 || which != 0:
						t.Errorf("refused with wait %v which %d", wait, which)
					default:
						refused.Add(1)
					}
				})
			}
			wg.Wait()
			if got := admitted.Load(); got != int64(tc.limit.Burst) {
				t.Errorf("admitted %d of %d calls across %d replicas, want exactly %d", got, tc.calls, len(rs), tc.limit.Burst)
			}
		})
	}
}

// TestAllowAllOrNone: a call that one bucket refuses takes no token from
// the others; peek takes nothing and names the slowest bucket.
func TestAllowAllOrNone(t *testing.T) {
	srv := statetest.Start(t)
	r := replicas(t, srv, 1)[0]
	ctx := context.Background()
	svc := Limit{Key: "service:x", Events: 2, Per: time.Hour, Burst: 2}
	tool := Limit{Key: "tool:y", Events: 1, Per: time.Hour, Burst: 1}
	steps := []struct {
		name      string
		ls        []Limit
		peek      bool
		wantWhich int
	}{
		{"peek empty buckets", []Limit{svc, tool}, true, -1},
		{"peek again takes nothing", []Limit{svc, tool}, true, -1},
		{"first call", []Limit{svc, tool}, false, -1},
		{"tool bucket empty", []Limit{svc, tool}, false, 1},
		{"peek names the tool", []Limit{svc, tool}, true, 1},
		{"service still has its token", []Limit{svc}, false, -1},
		{"now the service is empty", []Limit{svc}, false, 0},
	}
	for _, st := range steps {
		wait, which, err := r.Allow(ctx, st.ls, st.peek)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if which != st.wantWhich {
			t.Fatalf("%s: Allow = which %d (wait %v), want %d", st.name, which, wait, st.wantWhich)
		}
		if which >= 0 && (wait <= 0 || wait > time.Hour) {
			t.Fatalf("%s: wait %v, want within the hour", st.name, wait)
		}
	}
}

func TestNonceSingleUseAcrossReplicas(t *testing.T) {
	srv := statetest.Start(t)
	rs := replicas(t, srv, 3)
	ctx := context.Background()
	nonce := []byte("0123456789abcdef")
	if err := rs[0].PutNonce(ctx, nonce, time.Minute); err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int64
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			ok, err := rs[i%3].TakeNonce(ctx, nonce)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("nonce redeemed %d times across replicas, want once", wins.Load())
	}
	k0, err := rs[1].SigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	k1, _ := rs[2].SigningKey(ctx)
	if string(k0) != string(k1) || len(k0) != 32 {
		t.Fatalf("replicas got different signing keys")
	}
}

// TestAcquireOneLeader: identical calls on three replicas at once: one
// leads, the others wait and replay its result.
func TestAcquireOneLeader(t *testing.T) {
	srv := statetest.Start(t)
	rs := replicas(t, srv, 3)
	ctx := context.Background()
	id, bind := []byte("tool\x00args\x00x"), []byte{1, 2, 3}
	var leads atomic.Int64
	var wg sync.WaitGroup
	results := make(chan string, 9)
	start := make(chan struct{})
	for i := range 9 {
		wg.Go(func() {
			<-start
			l, d, conflict, err := rs[i%3].Acquire(ctx, id, bind, "kv-new", time.Minute)
			switch {
			case err != nil || conflict:
				t.Errorf("Acquire: %v conflict %v", err, conflict)
			case l != nil:
				leads.Add(1)
				time.Sleep(50 * time.Millisecond) // the upstream call; followers must wait
				if err := rs[i%3].Finish(ctx, l, []byte(`{"ok":1}`), 201, time.Now(), true, true, time.Minute); err != nil {
					t.Error(err)
				}
			default:
				results <- string(d.Result) + " " + d.HeaderKey
			}
		})
	}
	close(start)
	wg.Wait()
	close(results)
	if leads.Load() != 1 {
		t.Fatalf("%d leaders, want 1", leads.Load())
	}
	n := 0
	for r := range results {
		n++
		if r != `{"ok":1} kv-new` {
			t.Errorf("replayed %q", r)
		}
	}
	if n != 8 {
		t.Errorf("%d replays, want 8", n)
	}
}

func TestAcquireLifecycle(t *testing.T) {
	srv := statetest.Start(t)
	r := replicas(t, srv, 1)[0]
	ctx := context.Background()
	id := []byte("op")
	steps := []struct {
		name                   string
		binding                string
		finishSent, finishKeep bool
		wantLead, wantConflict bool
		wantHeader             string
	}{
		{"new operation", "a", false, false, true, false, "kv-1"},
		{"refused call left nothing: new header", "a", true, false, true, false, "kv-2"},
		{"failed attempt retried with its header", "a", true, true, true, false, "kv-2"},
		{"other arguments refused", "b", false, false, false, true, ""},
		{"replayed", "a", false, false, false, false, "kv-2"},
	}
	for i, st := range steps {
		l, d, conflict, err := r.Acquire(ctx, id, []byte(st.binding), "kv-"+string(rune('1'+i)), time.Minute)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if (l != nil) != st.wantLead || conflict != st.wantConflict {
			t.Fatalf("%s: lead %v conflict %v, want %v %v", st.name, l != nil, conflict, st.wantLead, st.wantConflict)
		}
		switch {
		case l != nil:
			if l.HeaderKey != st.wantHeader {
				t.Fatalf("%s: header %q, want %q", st.name, l.HeaderKey, st.wantHeader)
			}
			if err := r.Finish(ctx, l, []byte("res"), 200, time.Now(), st.finishSent, st.finishKeep, time.Minute); err != nil {
				t.Fatal(err)
			}
		case d != nil:
			if d.HeaderKey != st.wantHeader || string(d.Result) != "res" || d.Status != 200 {
				t.Fatalf("%s: replay %+v", st.name, d)
			}
		}
	}
}

// TestUnavailable: with the server gone every decision is an error that
// matches ErrUnavailable, quickly; when it is back, decisions resume.
func TestUnavailable(t *testing.T) {
	srv := statetest.Start(t)
	var errs atomic.Int64
	r, err := Open(&Options{URL: srv.URL(), OnError: func(string) { errs.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	l := []Limit{{Key: "u", Events: 100, Per: time.Second, Burst: 100}}
	if _, _, err := r.Allow(ctx, l, false); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	ops := []struct {
		name string
		do   func() error
	}{
		{"allow", func() error { _, _, err := r.Allow(ctx, l, false); return err }},
		{"put nonce", func() error { return r.PutNonce(ctx, []byte("n"), time.Minute) }},
		{"take nonce", func() error { _, err := r.TakeNonce(ctx, []byte("n")); return err }},
		{"acquire", func() error { _, _, _, err := r.Acquire(ctx, []byte("i"), []byte("b"), "k", time.Minute); return err }},
		{"ping", func() error { return r.Ping(ctx) }},
	}
	for _, op := range ops {
		if err := op.do(); !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s with Redis down: %v, want ErrUnavailable", op.name, err)
		}
	}
	if errs.Load() < int64(len(ops)) {
		t.Errorf("OnError called %d times, want at least %d", errs.Load(), len(ops))
	}
	srv.Restart()
	if _, which, err := r.Allow(ctx, l, false); err != nil || which >= 0 {
		t.Fatalf("after restart: which %d err %v, want admitted", which, err)
	}
}
