package keychain

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
)

// fakeKeyring is an in-memory backend; err, when set, is what every call
// returns (a locked or absent keychain). Every call yields first, so that
// concurrent read-modify-writes interleave as they do between processes.
type fakeKeyring struct {
	mu    sync.Mutex // the OS keychains take calls from several processes
	items map[string]string
	err   error
}

func (f *fakeKeyring) Get(s, u string) (string, error) {
	runtime.Gosched()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return "", f.err
	}
	v, ok := f.items[s+"\x00"+u]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (f *fakeKeyring) Set(s, u, p string) error {
	runtime.Gosched()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.items[s+"\x00"+u] = p
	return nil
}

func (f *fakeKeyring) Delete(s, u string) error {
	runtime.Gosched()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if _, ok := f.items[s+"\x00"+u]; !ok {
		return keyring.ErrNotFound
	}
	delete(f.items, s+"\x00"+u)
	return nil
}

var testTime = time.Date(2026, 12, 3, 22, 0, 0, 0, time.UTC)

func newTestStore(t *testing.T) (*store, *fakeKeyring) {
	kr := &fakeKeyring{items: map[string]string{}}
	return &store{kr: kr, now: func() time.Time { return testTime }, lockPath: filepath.Join(t.TempDir(), "index.lock")}, kr
}

func TestOrigin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want, wantErr string
	}{
		{in: "https://api.example.com", want: "https://api.example.com"},
		{in: "HTTPS://API.Example.COM:443/v2/", want: "https://api.example.com"},
		{in: "https://api.example.com:8443", want: "https://api.example.com:8443"},
		{in: "http://127.0.0.1:9000/x", want: "http://127.0.0.1:9000"},
		{in: "http://localhost:80", want: "http://localhost"},
		{in: "http://[::1]:9000", want: "http://[::1]:9000"},
		{in: "http://api.example.com", wantErr: "use https"},
		{in: "ftp://api.example.com", wantErr: "scheme"},
		{in: "api.example.com", wantErr: "absolute URL"},
		{in: "https://api.example.com/?key=sk-LEAKCHECK", wantErr: "no user name, query"},
		{in: "https://user:sk-LEAKCHECK@api.example.com", wantErr: "no user name, query"},
		{in: "https://api.example.com/#frag", wantErr: "no user name, query"},
	}
	for _, tc := range tests {
		got, err := Origin(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Origin(%q) = %q, %v; want error containing %q", tc.in, got, err, tc.wantErr)
			} else if strings.Contains(err.Error(), "LEAKCHECK") {
				t.Errorf("Origin(%q) error quotes the URL: %v", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Origin(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestCheckName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ok   bool
	}{
		{"crm", true},
		{"github-prod.v2_x", true},
		{strings.Repeat("a", 64), true},
		{"", false},
		{"-crm", false},
		{".crm", false},
		{"crm:x", false},
		{"keyveil:index", false},
		{"a b", false},
		{strings.Repeat("a", 65), false},
	}
	for _, tc := range tests {
		if err := CheckName(tc.name); (err == nil) != tc.ok {
			t.Errorf("CheckName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// TestGetRefusesForeignItems: an item keyveil did not write (a key stored
// by hand with secret-tool, or one edited by another process) is refused,
// and the refusal does not quote it.
func TestGetRefusesForeignItems(t *testing.T) {
	t.Parallel()
	const leak = "sk-test-LEAKCHECK-0123456789"
	tests := []struct {
		name, raw, want string
	}{
		{"plain key", leak, "not one keyveil stored"},
		{"json without origin", `{"v":"` + leak + `"}`, "not one keyveil stored"},
		{"json with a bad origin", `{"v":"` + leak + `","origin":"http://evil.example"}`, "no valid origin"},
		{"origin not normalized", `{"v":"` + leak + `","origin":"https://API.example.com:443"}`, "no valid origin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, kr := newTestStore(t)
			kr.items[service+"\x00crm"] = tc.raw
			v, _, err := s.get("crm")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("get = %q, %v; want error containing %q", v, err, tc.want)
			}
			if strings.Contains(err.Error(), "LEAKCHECK") {
				t.Errorf("get error quotes the item: %v", err)
			}
		})
	}
}

// TestStoreRoundTrip: set then get returns the value and origin; list uses
// the index; remove clears both.
func TestStoreRoundTrip(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t)
	if _, _, err := s.get("crm"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get before set = %v, want ErrNotFound", err)
	}
	for _, n := range []string{"crm", "billing"} {
		if _, err := s.set(n, "sk-test-"+n+"-0123456789", "https://"+n+".example.com"); err != nil {
			t.Fatalf("set(%s): %v", n, err)
		}
	}
	replaced, err := s.set("crm", "sk-test-crm-replaced-0123", "https://crm.example.com")
	if err != nil || !replaced {
		t.Fatalf("set(crm) again = %v, %v; want replaced", replaced, err)
	}
	v, e, err := s.get("crm")
	want := Entry{Name: "crm", Origin: "https://crm.example.com", Created: testTime}
	if err != nil || v != "sk-test-crm-replaced-0123" || e != want {
		t.Fatalf("get(crm) = %q, %+v, %v; want the replaced value and %+v", v, e, err, want)
	}
	entries, problems, err := s.list()
	if err != nil || len(problems) != 0 || len(entries) != 2 || entries[0].Name != "billing" || entries[1].Name != "crm" {
		t.Fatalf("list = %+v, %v, %v; want billing and crm", entries, problems, err)
	}
	if err := s.remove("crm"); err != nil {
		t.Fatalf("remove(crm): %v", err)
	}
	if err := s.remove("crm"); !errors.Is(err, ErrNotFound) {
		t.Errorf("remove(crm) twice = %v, want ErrNotFound", err)
	}
	if entries, _, _ := s.list(); len(entries) != 1 || entries[0].Name != "billing" {
		t.Errorf("list after remove = %+v, want billing alone", entries)
	}
}

// TestNoSessionBus: without a session bus, the OS keychain says so at once
// instead of letting godbus autolaunch a dbus-daemon (and with it a
// gnome-keyring) that would outlive keyveil.
func TestNoSessionBus(t *testing.T) {
	if _, err := os.Stat(fmt.Sprintf("/run/user/%d/bus", os.Getuid())); err == nil || runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		t.Skip("this machine has a session bus at /run/user/UID/bus, or no Secret Service keychain")
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("PATH", t.TempDir()) // no dbus-launch to autolaunch with, should the check regress
	tests := []struct {
		name string
		call func() error
	}{
		{"lookup", func() error { _, _, err := Lookup("crm"); return err }},
		{"set", func() error {
			_, err := defaultStore.set("crm", "sk-test-0123456789", "https://api.example.com")
			return err
		}},
		{"remove", func() error { return defaultStore.remove("crm") }},
	}
	for _, tc := range tests {
		err := tc.call()
		if err == nil || !strings.Contains(err.Error(), "OS keychain is not available") || !strings.Contains(err.Error(), "no D-Bus session bus") {
			t.Errorf("%s without a session bus = %v; want the OS keychain unavailable for want of a session bus", tc.name, err)
		}
	}
}

// TestConcurrentSetKeepsEveryName: many `keyveil secrets set` at once,
// then some deletes at once, leave the index naming exactly the secrets
// stored. Without the index lock, each read-modify-write of the index
// could write back a list missing another's name.
func TestConcurrentSetKeepsEveryName(t *testing.T) {
	t.Parallel()
	s, _ := newTestStore(t)
	const n = 64
	var want []string
	for i := range n {
		want = append(want, "k"+strconv.Itoa(i))
	}
	run := func(names []string, op func(name string) error) {
		var wg sync.WaitGroup
		for _, name := range names {
			wg.Go(func() {
				if err := op(name); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			})
		}
		wg.Wait()
	}
	run(want, func(name string) error {
		_, err := s.set(name, "sk-test-"+name+"-0123456789", "https://api.example.com")
		return err
	})
	if got, err := s.names(); err != nil || !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("index after %d concurrent sets = %v (%d names), %v; want all %d", n, got, len(got), err, n)
	}
	// The odd ones go again, at once.
	var odd []string
	for i := 1; i < n; i += 2 {
		odd = append(odd, want[i])
	}
	run(odd, s.remove)
	want = slices.DeleteFunc(want, func(n string) bool { return slices.Contains(odd, n) })
	slices.Sort(want)
	got, err := s.names()
	if err != nil {
		t.Fatalf("names: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("index after %d concurrent sets and %d removes = %v (%d names), want %v", n, len(odd), got, len(got), want)
	}
	for _, name := range want {
		if _, _, err := s.get(name); err != nil {
			t.Errorf("get(%s) = %v", name, err)
		}
	}
}
