package keys

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyveil/keyveil/internal/clocktest"
)

// newClock is a clock for expiry tests, moved by hand.
func newClock() *clocktest.Clock {
	return clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
}

// newRegistry opens an empty registry in a fresh directory.
func newRegistry(t *testing.T, clock *clocktest.Clock) *Registry {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.json")
	r, err := Open(path, &Options{Now: clock.Now, CreateMissing: true, PollInterval: -1})
	if err != nil {
		t.Fatalf("Open(%q) = %v", path, err)
	}
	return r
}

func mustCreate(t *testing.T, r *Registry, name string, scopes []string, lifetime time.Duration) (string, *Key) {
	t.Helper()
	plain, k, err := r.Create(name, scopes, lifetime, Rate{})
	if err != nil {
		t.Fatalf("Create(%q) = %v", name, err)
	}
	return plain, k
}

func TestCreateStoresOnlyAHash(t *testing.T) {
	t.Parallel()
	r := newRegistry(t, newClock())
	plain, k := mustCreate(t, r, "ci", []string{"write", "read"}, 90*24*time.Hour)
	_, secret, ok := split(plain)
	if !ok {
		t.Fatalf("Create returned %q, which is not shaped like a key", plain)
	}
	b, err := os.ReadFile(r.Path())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(secret)) {
		t.Errorf("registry file contains the secret:\n%s", b)
	}
	var d fileData
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("registry file is not JSON: %v", err)
	}
	if len(d.Keys) != 1 || d.Keys[0].ID != k.ID || len(d.Keys[0].SHA256) != 64 {
		t.Fatalf("registry file = %s, want one key %s with a sha256", b, k.ID)
	}
	want := Key{ID: k.ID, Name: "ci", Scopes: []string{"read", "write"}, Status: StatusActive,
		Created: newClock().Now(), Expires: newClock().Now().Add(90 * 24 * time.Hour)}
	if diff := cmp.Diff(want, d.Keys[0].Key); diff != "" {
		t.Errorf("stored key mismatch (-want +got):\n%s", diff)
	}
	fi, err := os.Stat(r.Path())
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("registry file mode = %04o, want 0600", perm)
	}
	ents, _ := os.ReadDir(filepath.Dir(r.Path()))
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestCreateRefusesBadInput(t *testing.T) {
	t.Parallel()
	r := newRegistry(t, newClock())
	tests := []struct {
		name     string
		keyName  string
		scopes   []string
		lifetime time.Duration
		rate     Rate
	}{
		{name: "empty name", keyName: ""},
		{name: "control character", keyName: "ci\n"},
		{name: "padded name", keyName: " ci"},
		{name: "scope with comma", keyName: "ci", scopes: []string{"a,b"}},
		{name: "negative lifetime", keyName: "ci", lifetime: -time.Hour},
		{name: "half a rate", keyName: "ci", rate: Rate{Events: 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := r.Create(tc.keyName, tc.scopes, tc.lifetime, tc.rate); err == nil {
				t.Errorf("Create(%q, %q, %v, %v) error = nil, want an error", tc.keyName, tc.scopes, tc.lifetime, tc.rate)
			}
		})
	}
	if ks, _ := r.List(); len(ks) != 0 {
		t.Errorf("List() after refused creates = %v, want none", ks)
	}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	clock := newClock()
	r := newRegistry(t, clock)
	good, goodKey := mustCreate(t, r, "good", nil, 0)
	revoked, _ := mustCreate(t, r, "revoked", nil, 0)
	expiring, _ := mustCreate(t, r, "expiring", nil, time.Hour)
	id, secret, _ := split(revoked)
	if err := r.Revoke(id); err != nil {
		t.Fatalf("Revoke(%s) = %v", id, err)
	}
	clock.Advance(time.Hour)
	otherID, otherSecret := newMaterial()
	goodID, goodSecret, _ := split(good)

	tests := []struct {
		name    string
		in      string
		want    error
		wantKey bool
	}{
		{name: "good", in: good, wantKey: true},
		{name: "missing", in: "", want: ErrMissing},
		{name: "garbage", in: "sk-test-LEAKCHECK-0123456789", want: ErrInvalid},
		{name: "unknown id", in: format(otherID, otherSecret), want: ErrInvalid},
		{name: "wrong secret for known id", in: format(goodID, otherSecret), want: ErrInvalid},
		{name: "secret of another key", in: format(goodID, secret), want: ErrInvalid},
		{name: "case changed", in: strings.ToUpper(good), want: ErrInvalid},
		{name: "trailing newline", in: good + "\n", want: ErrInvalid},
		{name: "revoked", in: revoked, want: ErrRevoked, wantKey: true},
		{name: "revoked id with wrong secret", in: format(id, goodSecret), want: ErrInvalid},
		{name: "expired", in: expiring, want: ErrExpired, wantKey: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k, err := r.Authenticate(tc.in)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Errorf("Authenticate(%s) error = %v, want %v", tc.name, err, tc.want)
			}
			if (k != nil) != tc.wantKey {
				t.Errorf("Authenticate(%s) key = %v, want a key: %v", tc.name, k, tc.wantKey)
			}
			if tc.name == "good" && (k == nil || k.ID != goodKey.ID) {
				t.Errorf("Authenticate(good) = %+v, want key %s", k, goodKey.ID)
			}
			if err != nil && tc.in != "" && strings.Contains(err.Error(), tc.in) {
				t.Errorf("Authenticate(%s) error %q quotes the presented key", tc.name, err)
			}
		})
	}
}

func TestUnknownIDAndWrongSecretLookAlike(t *testing.T) {
	t.Parallel()
	r := newRegistry(t, newClock())
	good, _ := mustCreate(t, r, "good", nil, 0)
	goodID, _, _ := split(good)
	otherID, otherSecret := newMaterial()
	_, errUnknown := r.Authenticate(format(otherID, otherSecret))
	_, errWrong := r.Authenticate(format(goodID, otherSecret))
	if errUnknown == nil || errWrong == nil || errUnknown.Error() != errWrong.Error() {
		t.Errorf("Authenticate(unknown id) = %v and Authenticate(wrong secret) = %v; want the same error", errUnknown, errWrong)
	}
}

func TestRotate(t *testing.T) {
	t.Parallel()
	clock := newClock()
	r := newRegistry(t, clock)
	old, oldKey := mustCreate(t, r, "ci", []string{"read"}, 30*24*time.Hour)
	clock.Advance(24 * time.Hour)
	fresh, newKey, err := r.Rotate(oldKey.ID, time.Hour)
	if err != nil {
		t.Fatalf("Rotate(%s, 1h) = %v", oldKey.ID, err)
	}
	if newKey.ID == oldKey.ID || newKey.Name != "ci" || !cmp.Equal(newKey.Scopes, []string{"read"}) {
		t.Errorf("Rotate gave %+v, want a new id with the old name and scopes", newKey)
	}
	if got, want := newKey.Expires.Sub(newKey.Created), 30*24*time.Hour; got != want {
		t.Errorf("rotated key lives %v, want the old key's lifetime %v", got, want)
	}

	steps := []struct {
		name          string
		advance       time.Duration
		wantOld       error
		wantNewWorks  bool
		wantOldStatus string
	}{
		{name: "during overlap", advance: 59 * time.Minute, wantOld: nil, wantNewWorks: true, wantOldStatus: "rotated"},
		{name: "after overlap", advance: time.Minute, wantOld: ErrExpired, wantNewWorks: true, wantOldStatus: "expired"},
	}
	for _, st := range steps {
		clock.Advance(st.advance)
		if _, err := r.Authenticate(old); !errors.Is(err, st.wantOld) || (st.wantOld == nil && err != nil) {
			t.Errorf("%s: Authenticate(old key) = %v, want %v", st.name, err, st.wantOld)
		}
		if _, err := r.Authenticate(fresh); (err == nil) != st.wantNewWorks {
			t.Errorf("%s: Authenticate(new key) = %v", st.name, err)
		}
		ks, _ := r.List()
		if len(ks) != 2 || ks[0].state(clock.Now()) != st.wantOldStatus || ks[0].RotatedTo != newKey.ID {
			t.Errorf("%s: List()[0] = %+v, want state %s rotated to %s", st.name, ks[0], st.wantOldStatus, newKey.ID)
		}
	}
}

func TestRotateEdgeCases(t *testing.T) {
	t.Parallel()
	clock := newClock()
	r := newRegistry(t, clock)
	old, k := mustCreate(t, r, "ci", nil, 2*time.Hour)

	// An overlap longer than the key's remaining life does not extend it.
	if _, _, err := r.Rotate(k.ID, 48*time.Hour); err != nil {
		t.Fatalf("Rotate(%s, 48h) = %v", k.ID, err)
	}
	clock.Advance(2 * time.Hour)
	if _, err := r.Authenticate(old); !errors.Is(err, ErrExpired) {
		t.Errorf("Authenticate(old key) after its own expiry = %v, want ErrExpired", err)
	}

	// Overlap zero revokes at once.
	old2, k2 := mustCreate(t, r, "ci2", nil, 0)
	if _, _, err := r.Rotate(k2.ID, 0); err != nil {
		t.Fatalf("Rotate(%s, 0) = %v", k2.ID, err)
	}
	if _, err := r.Authenticate(old2); !errors.Is(err, ErrRevoked) {
		t.Errorf("Authenticate(old key) after Rotate(0) = %v, want ErrRevoked", err)
	}
	if _, _, err := r.Rotate(k2.ID, time.Hour); err == nil {
		t.Errorf("Rotate(revoked key) error = nil, want an error")
	}
	if _, _, err := r.Rotate(k.ID, time.Hour); err == nil {
		t.Errorf("Rotate(expired key) error = nil, want an error")
	}
	if _, _, err := r.Rotate("aaaaaaaa", time.Hour); !errors.Is(err, ErrNotFound) {
		t.Errorf("Rotate(unknown id) = %v, want ErrNotFound", err)
	}
	if err := r.Revoke("aaaaaaaa"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Revoke(unknown id) = %v, want ErrNotFound", err)
	}
	if err := r.Revoke(k2.ID); err != nil {
		t.Errorf("Revoke(already revoked) = %v, want nil", err)
	}
}

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	valid := `{"version":1,"keys":[{"id":"aaaaaaaa","name":"x","status":"active","created":"2026-01-01T00:00:00Z","sha256":"` + strings.Repeat("ab", 32) + `"}]}`
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		wantIn  string
	}{
		{name: "group readable", content: valid, mode: 0o640, wantIn: "chmod 600"},
		{name: "world readable", content: valid, mode: 0o604, wantIn: "chmod 600"},
		{name: "not JSON", content: "{", mode: 0o600, wantIn: "parsing JSON"},
		{name: "unknown field", content: strings.Replace(valid, `"status"`, `"stauts":"revoked","status"`, 1), mode: 0o600, wantIn: "stauts"},
		{name: "future version", content: strings.Replace(valid, `"version":1`, `"version":2`, 1), mode: 0o600, wantIn: "version"},
		{name: "bad status", content: strings.Replace(valid, `"active"`, `"paused"`, 1), mode: 0o600, wantIn: "status"},
		{name: "bad hash", content: strings.Replace(valid, strings.Repeat("ab", 32), "abc", 1), mode: 0o600, wantIn: "sha256"},
		{name: "bad id", content: strings.Replace(valid, "aaaaaaaa", "a_a", 1), mode: 0o600, wantIn: "id"},
		{name: "duplicate id", content: strings.Replace(valid, "]}", ","+valid[strings.Index(valid, "[")+1:len(valid)-2]+"]}", 1), mode: 0o600, wantIn: "twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "keys.json")
			if err := os.WriteFile(path, []byte(tc.content), tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil { // umask
				t.Fatal(err)
			}
			_, err := Open(path, nil)
			if err == nil || !strings.Contains(err.Error(), tc.wantIn) {
				t.Errorf("Open(%s) = %v, want an error mentioning %q", tc.name, err, tc.wantIn)
			}
		})
	}
	t.Run("valid", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "keys.json")
		if err := os.WriteFile(path, []byte(valid), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(path, nil); err != nil {
			t.Errorf("Open(valid registry) = %v", err)
		}
	})
}

func TestOpenMissing(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "keys.json")
	_, err := Open(path, nil)
	if err == nil || !strings.Contains(err.Error(), "keyveil keys create") {
		t.Errorf("Open(missing) = %v, want an error saying how to create it", err)
	}
	r, err := Open(path, &Options{CreateMissing: true})
	if err != nil {
		t.Fatalf("Open(missing, CreateMissing) = %v", err)
	}
	if ks, err := r.List(); len(ks) != 0 || err != nil {
		t.Errorf("List() of a missing registry = %v, %v; want empty", ks, err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Errorf("Open(CreateMissing) wrote %s before any change", path)
	}
	mustCreate(t, r, "first", nil, 0)
	fi, err := os.Stat(filepath.Dir(path))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("registry directory = %v, %v; want mode 0700", fi, err)
	}
}

// waitFor polls cond for up to two seconds; reload tests use it with a
// short poll interval rather than sleeping a fixed time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestReloadSeesOtherWriters(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys.json")
	admin, err := Open(path, &Options{CreateMissing: true})
	if err != nil {
		t.Fatal(err)
	}
	server, err := Open(path, &Options{CreateMissing: true, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	plain, k := mustCreate(t, admin, "ci", nil, 0)
	waitFor(t, "the server to see a new key", func() bool {
		_, err := server.Authenticate(plain)
		return err == nil
	})
	if err := admin.Revoke(k.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the server to see the revocation", func() bool {
		_, err := server.Authenticate(plain)
		return errors.Is(err, ErrRevoked)
	})
}

func TestReloadKeepsLastGoodVersion(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var logMu sync.Mutex
	path := filepath.Join(t.TempDir(), "keys.json")
	admin, err := Open(path, &Options{CreateMissing: true})
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := mustCreate(t, admin, "ci", nil, 0)
	server, err := Open(path, &Options{PollInterval: time.Millisecond, Logger: slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(`{"version":1,"keys":[`), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := server.Authenticate(plain); err != nil {
			t.Fatalf("Authenticate after a broken edit = %v, want the last good version to hold", err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	if n := strings.Count(out, "not reloaded"); n != 1 {
		t.Errorf("logged the broken file %d times, want once:\n%s", n, out)
	}
	if strings.Contains(out, plain) {
		t.Errorf("log contains the key:\n%s", out)
	}

	// A removed file refuses every key.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a removed registry to refuse the key", func() bool {
		_, err := server.Authenticate(plain)
		return errors.Is(err, ErrInvalid)
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestFlushLastUsed(t *testing.T) {
	t.Parallel()
	clock := newClock()
	r := newRegistry(t, clock)
	plain, k := mustCreate(t, r, "ci", nil, 0)
	before, _ := os.Stat(r.Path())
	if err := r.Flush(); err != nil {
		t.Fatalf("Flush() = %v", err)
	}
	if after, _ := os.Stat(r.Path()); !os.SameFile(before, after) {
		t.Errorf("Flush() with nothing to write rewrote the file")
	}
	clock.Advance(time.Minute)
	if _, err := r.Authenticate(plain); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(); err != nil {
		t.Fatalf("Flush() = %v", err)
	}
	other, err := Open(r.Path(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := other.List()
	if err != nil || len(ks) != 1 || !ks[0].LastUsed.Equal(clock.Now()) {
		t.Errorf("List() after Flush = %+v, %v; want %s last used at %v", ks, err, k.ID, clock.Now())
	}
}

func TestConcurrentWritersLoseNothing(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys.json")
	var wg sync.WaitGroup
	const writers, each = 4, 5
	for range writers {
		r, err := Open(path, &Options{CreateMissing: true})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for range each {
				if _, _, err := r.Create("w", nil, 0, Rate{}); err != nil {
					t.Errorf("Create = %v", err)
				}
			}
		})
	}
	wg.Wait()
	r, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ks, _ := r.List(); len(ks) != writers*each {
		t.Errorf("List() after %d concurrent creates has %d keys", writers*each, len(ks))
	}
}
