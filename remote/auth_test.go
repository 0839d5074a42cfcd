package remote

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyveil/keyveil/keys"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestAuthenticationMatrix(t *testing.T) {
	t.Parallel()
	e := start(t, 0, nil)
	good, goodKey := e.newKey(t, "good", nil, 0, keys.Rate{})
	revoked, revokedKey := e.newKey(t, "revoked", nil, 0, keys.Rate{})
	expired, _ := e.newKey(t, "expired", nil, time.Hour, keys.Rate{})
	if err := e.keys.Revoke(revokedKey.ID); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	goodID := strings.Split(good, "_")[1]
	otherID := strings.Split(revoked, "_")[1]
	wrongSecret := "kv_" + goodID + "_" + strings.Split(revoked, "_")[2]
	unknownID := "kv_" + "aaaaaaaa" + "_" + strings.Split(good, "_")[2]
	if otherID == "aaaaaaaa" || goodID == "aaaaaaaa" {
		t.Skip("random id collided with the unknown id")
	}

	tests := []struct {
		name       string
		hdr        http.Header
		wantStatus int
		wantWord   string // in the 401 message
	}{
		{name: "no key", hdr: nil, wantStatus: 401, wantWord: "missing"},
		{name: "empty X-API-Key", hdr: http.Header{"X-Api-Key": {""}}, wantStatus: 401, wantWord: "missing"},
		{name: "bad key", hdr: bearer("sk-test-LEAKCHECK-0123456789"), wantStatus: 401, wantWord: "invalid"},
		{name: "Bearer without token", hdr: http.Header{"Authorization": {"Bearer"}}, wantStatus: 401, wantWord: "invalid"},
		{name: "Bearer with spaces only", hdr: http.Header{"Authorization": {"Bearer   "}}, wantStatus: 401, wantWord: "invalid"},
		{name: "Basic scheme", hdr: http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, wantStatus: 401, wantWord: "invalid"},
		{name: "key without scheme", hdr: http.Header{"Authorization": {good}}, wantStatus: 401, wantWord: "invalid"},
		{name: "two Authorization headers", hdr: http.Header{"Authorization": {"Bearer " + good, "Bearer " + good}}, wantStatus: 401, wantWord: "invalid"},
		{name: "two X-API-Key headers", hdr: http.Header{"X-Api-Key": {good, good}}, wantStatus: 401, wantWord: "invalid"},
		{name: "different keys in both headers", hdr: http.Header{"Authorization": {"Bearer " + good}, "X-Api-Key": {revoked}}, wantStatus: 401, wantWord: "invalid"},
		{name: "unknown id", hdr: bearer(unknownID), wantStatus: 401, wantWord: "invalid"},
		{name: "wrong secret for known id", hdr: bearer(wrongSecret), wantStatus: 401, wantWord: "invalid"},
		{name: "revoked", hdr: bearer(revoked), wantStatus: 401, wantWord: "revoked"},
		{name: "revoked via X-API-Key", hdr: http.Header{"X-Api-Key": {revoked}}, wantStatus: 401, wantWord: "revoked"},
		{name: "expired", hdr: bearer(expired), wantStatus: 401, wantWord: "expired"},
		{name: "Bearer", hdr: bearer(good), wantStatus: 200},
		{name: "lower-case bearer", hdr: http.Header{"Authorization": {"bearer " + good}}, wantStatus: 200},
		{name: "X-API-Key", hdr: http.Header{"X-Api-Key": {good}}, wantStatus: 200},
		{name: "same key in both headers", hdr: http.Header{"Authorization": {"Bearer " + good}, "X-Api-Key": {good}}, wantStatus: 200},
		{name: "proxy Basic plus X-API-Key", hdr: http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}, "X-Api-Key": {good}}, wantStatus: 200},
	}
	// The group returns only when its parallel subtests are done, so the
	// leak check below sees every request.
	t.Run("matrix", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				got := e.initialize(t, tc.hdr)
				if got.status != tc.wantStatus {
					t.Fatalf("POST /mcp with %s: status %d, want %d; body %q", tc.name, got.status, tc.wantStatus, got.body)
				}
				if tc.wantStatus != 401 {
					return
				}
				code, msg := rpcErrorBody(t, got.body)
				want := `Bearer error="invalid_token", error_description="` + msg + `"`
				if h := got.header.Values("WWW-Authenticate"); len(h) != 1 || h[0] != want {
					t.Errorf("POST /mcp with %s: WWW-Authenticate = %q, want [%s]", tc.name, h, want)
				}
				if code != -32001 || !strings.Contains(strings.ToLower(msg), tc.wantWord) {
					t.Errorf("POST /mcp with %s: error %d %q, want -32001 saying %q", tc.name, code, msg, tc.wantWord)
				}
			})
		}
	})
	t.Run("no secret in logs or audit", func(t *testing.T) {
		// Runs after the parallel subtests above have finished.
		logs := e.logs.String()
		for _, k := range []string{good, revoked, expired, wrongSecret, unknownID, "sk-test-LEAKCHECK"} {
			secret := k[strings.LastIndex(k, "_")+1:]
			if strings.Contains(logs, secret) {
				t.Errorf("logs contain a presented secret %q:\n%s", secret, logs)
			}
			for _, r := range e.audit.all() {
				if strings.Contains(r.KeyID, secret) || strings.Contains(r.Path, secret) {
					t.Errorf("audit record %+v contains a presented secret", r)
				}
			}
		}
		var sawGood, sawRevoked bool
		for _, r := range e.audit.all() {
			sawGood = sawGood || (r.KeyID == goodKey.ID && r.Outcome == "ok")
			sawRevoked = sawRevoked || (r.KeyID == revokedKey.ID && r.Outcome == "revoked" && r.Status == 401)
		}
		if !sawGood || !sawRevoked {
			t.Errorf("audit = %+v, want an ok record for %s and a revoked one for %s", e.audit.all(), goodKey.ID, revokedKey.ID)
		}
	})
}

// TestUnknownIDAndWrongSecretAnswerAlike compares whole responses: any
// difference, even in a header, would tell an attacker which ids exist.
func TestUnknownIDAndWrongSecretAnswerAlike(t *testing.T) {
	t.Parallel()
	e := start(t, 0, nil)
	good, _ := e.newKey(t, "good", nil, 0, keys.Rate{})
	other, _ := e.newKey(t, "other", nil, 0, keys.Rate{})
	parts, otherParts := strings.Split(good, "_"), strings.Split(other, "_")
	wrongSecret := e.initialize(t, bearer("kv_"+parts[1]+"_"+otherParts[2]))
	unknown := e.initialize(t, bearer("kv_"+"bbbbbbbb"+"_"+parts[2]))
	if wrongSecret.status != unknown.status || wrongSecret.body != unknown.body {
		t.Errorf("wrong secret got %d %q; unknown id got %d %q; want the same", wrongSecret.status, wrongSecret.body, unknown.status, unknown.body)
	}
	for _, h := range []string{"WWW-Authenticate", "Content-Type", "Content-Length"} {
		if wrongSecret.header.Get(h) != unknown.header.Get(h) {
			t.Errorf("header %s: wrong secret %q, unknown id %q; want the same", h, wrongSecret.header.Get(h), unknown.header.Get(h))
		}
	}
}

func TestEndToEndBothHeadersBothVersions(t *testing.T) {
	t.Parallel()
	e := start(t, 0, nil)
	key, k := e.newKey(t, "agent", nil, 0, keys.Rate{})
	for _, header := range []string{"Authorization", "X-API-Key"} {
		for _, version := range []string{protoStable, protoNewest} {
			t.Run(header+"/"+version, func(t *testing.T) {
				t.Parallel()
				cs, err := e.connect(t, header, key, version)
				if err != nil {
					t.Fatalf("Connect(%s, %s) = %v", header, version, err)
				}
				if got := cs.InitializeResult().ProtocolVersion; got != version {
					t.Errorf("negotiated protocol %s, want %s", got, version)
				}
				if got, want := toolNames(t, cs), []string{"echo_headers", "write_thing"}; !slices.Equal(got, want) {
					t.Errorf("tools/list = %q, want %q", got, want)
				}
				res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "echo_headers"})
				if err != nil || res.IsError {
					t.Fatalf("CallTool(echo_headers) = %+v, %v", res, err)
				}
				out, _ := res.StructuredContent.(map[string]any)
				if out["key_id"] != k.ID {
					t.Errorf("tool saw key_id %v, want %s", out["key_id"], k.ID)
				}
				if s := strings.Join([]string{out["authorization"].(string), out["api_key"].(string)}, " "); strings.Contains(s, key[len(key)-32:]) {
					t.Errorf("tool saw the key in request headers: %q", s)
				}
			})
		}
	}
}

func TestScopesFilterTools(t *testing.T) {
	t.Parallel()
	e := start(t, 0, nil)
	readKey, _ := e.newKey(t, "reader", []string{"read"}, 0, keys.Rate{})
	readKey2, _ := e.newKey(t, "reader2", []string{"read"}, 0, keys.Rate{})
	writeKey, _ := e.newKey(t, "writer", []string{"read", "write"}, 0, keys.Rate{})
	tests := []struct {
		name      string
		key       string
		version   string
		wantTools []string
	}{
		{name: "read scope", key: readKey, version: protoStable, wantTools: []string{"echo_headers"}},
		{name: "read scope, newest protocol", key: readKey, version: protoNewest, wantTools: []string{"echo_headers"}},
		{name: "another key, same scopes", key: readKey2, version: protoStable, wantTools: []string{"echo_headers"}},
		{name: "write scope", key: writeKey, version: protoStable, wantTools: []string{"echo_headers", "write_thing"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := e.connect(t, "Authorization", tc.key, tc.version)
			if err != nil {
				t.Fatal(err)
			}
			if got := toolNames(t, cs); !slices.Equal(got, tc.wantTools) {
				t.Errorf("tools/list for %s = %q, want %q", tc.name, got, tc.wantTools)
			}
			res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "write_thing"})
			allowed := len(tc.wantTools) == 2
			refused := err != nil || (res != nil && res.IsError)
			if refused == allowed {
				t.Errorf("CallTool(write_thing) for %s = %+v, %v; want refused: %v", tc.name, res, err, !allowed)
			}
		})
	}
	if got := e.servers.builds(); got["read"] != 1 || got["read,write"] != 1 || len(got) != 2 {
		t.Errorf("NewServer calls per scope set = %v, want one each for read and read,write", got)
	}
}

// TestSessionBoundToKey: a session id is useless with another key, even a
// valid one, so a leaked session id does not hand over a wider tool list.
func TestSessionBoundToKey(t *testing.T) {
	t.Parallel()
	e := start(t, 0, nil)
	owner, _ := e.newKey(t, "owner", []string{"read", "write"}, 0, keys.Rate{})
	other, _ := e.newKey(t, "other", []string{"read"}, 0, keys.Rate{})
	init := e.initialize(t, bearer(owner))
	sid := init.header.Get("Mcp-Session-Id")
	if init.status != 200 || sid == "" {
		t.Fatalf("initialize = %d, session %q; want 200 with a session id", init.status, sid)
	}
	list := `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
	hdr := bearer(other)
	hdr.Set("Mcp-Session-Id", sid)
	hdr.Set("Mcp-Protocol-Version", protoStable)
	if got := e.do(t, http.MethodPost, "/mcp", hdr, list); got.status != http.StatusForbidden {
		t.Errorf("tools/list on %s's session with another key: status %d, want 403; body %q", "owner", got.status, got.body)
	}
	hdr.Set("Authorization", "Bearer "+owner)
	if got := e.do(t, http.MethodPost, "/mcp", hdr, list); got.status != 200 {
		t.Errorf("tools/list on the session with its own key: status %d, want 200; body %q", got.status, got.body)
	}
}

func TestRotationOverlap(t *testing.T) {
	t.Parallel()
	e := start(t, 0, nil)
	old, oldKey := e.newKey(t, "ci", nil, 0, keys.Rate{})
	fresh, _, err := e.keys.Rotate(oldKey.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name       string
		advance    time.Duration
		wantOld    int
		wantOldMsg string
	}{
		{name: "overlap running", advance: 59 * time.Minute, wantOld: 200},
		{name: "overlap over", advance: time.Minute, wantOld: 401, wantOldMsg: "expired"},
	}
	for _, st := range steps {
		e.clock.Advance(st.advance)
		got := e.initialize(t, bearer(old))
		if got.status != st.wantOld {
			t.Errorf("%s: old key got %d, want %d; body %q", st.name, got.status, st.wantOld, got.body)
		} else if st.wantOldMsg != "" {
			if _, msg := rpcErrorBody(t, got.body); !strings.Contains(msg, st.wantOldMsg) {
				t.Errorf("%s: old key refused with %q, want %q", st.name, msg, st.wantOldMsg)
			}
		}
		if got := e.initialize(t, http.Header{"X-Api-Key": {fresh}}); got.status != 200 {
			t.Errorf("%s: new key got %d, want 200; body %q", st.name, got.status, got.body)
		}
	}
}

// TestRegistryEditedWhileRunning: another process's `keyveil keys` edits
// reach the server within the poll interval, with no restart.
func TestRegistryEditedWhileRunning(t *testing.T) {
	t.Parallel()
	e := start(t, 10*time.Millisecond, nil)
	admin, err := keys.Open(e.keys.Path(), &keys.Options{CreateMissing: true})
	if err != nil {
		t.Fatal(err)
	}
	key, k, err := admin.Create("late", nil, 0, keys.Rate{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a key created elsewhere to work", func() bool { return e.initialize(t, bearer(key)).status == 200 })
	cs, err := e.connect(t, "Authorization", key, protoStable)
	if err != nil {
		t.Fatalf("Connect with the new key = %v", err)
	}
	if err := admin.Revoke(k.ID); err != nil {
		t.Fatal(err)
	}
	// A session opened before the revocation does not outlive it.
	waitFor(t, "an open session's key to be refused", func() bool {
		_, err := cs.ListTools(context.Background(), nil)
		return err != nil
	})
	waitFor(t, "a key revoked elsewhere to be refused", func() bool {
		got := e.initialize(t, bearer(key))
		return got.status == 401 && strings.Contains(got.body, "revoked")
	})
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := start(t, 0, func(o *Options) { o.DefaultRate = keys.Rate{Events: 1, Per: time.Hour} })
	limited, _ := e.newKey(t, "limited", nil, 0, keys.Rate{Events: 2, Per: time.Minute})
	defaulted, _ := e.newKey(t, "defaulted", nil, 0, keys.Rate{})
	other, _ := e.newKey(t, "other", nil, 0, keys.Rate{Events: 100, Per: time.Second})

	for i := range 2 {
		if got := e.initialize(t, bearer(limited)); got.status != 200 {
			t.Fatalf("request %d within the rate: status %d; body %q", i+1, got.status, got.body)
		}
	}
	got := e.initialize(t, bearer(limited))
	if got.status != http.StatusTooManyRequests {
		t.Fatalf("third request at 2/min: status %d, want 429; body %q", got.status, got.body)
	}
	if ra := got.header.Get("Retry-After"); ra != "30" {
		t.Errorf("Retry-After = %q, want 30 (seconds until the next token at 2/min)", ra)
	}
	if code, _ := rpcErrorBody(t, got.body); code != -32029 {
		t.Errorf("429 body code = %d, want -32029", code)
	}
	if got := e.initialize(t, bearer(other)); got.status != 200 {
		t.Errorf("another key while the first is limited: status %d, want 200", got.status)
	}
	e.clock.Advance(29 * time.Second)
	if got := e.initialize(t, bearer(limited)); got.status != 429 || got.header.Get("Retry-After") != "1" {
		t.Errorf("after 29s: status %d Retry-After %q, want 429 and 1", got.status, got.header.Get("Retry-After"))
	}
	e.clock.Advance(time.Second)
	if got := e.initialize(t, bearer(limited)); got.status != 200 {
		t.Errorf("after 30s: status %d, want 200", got.status)
	}

	if got := e.initialize(t, bearer(defaulted)); got.status != 200 {
		t.Errorf("first request under the default rate: status %d", got.status)
	}
	if got := e.initialize(t, bearer(defaulted)); got.status != 429 || got.header.Get("Retry-After") != "3600" {
		t.Errorf("second request under the default 1/h: status %d Retry-After %q, want 429 and 3600", got.status, got.header.Get("Retry-After"))
	}
}

// TestClientSeesAuthErrors: the go-sdk client reports a refused key as a
// connection error at either protocol version, rather than hanging.
func TestClientSeesAuthErrors(t *testing.T) {
	t.Parallel()
	e := start(t, 0, nil)
	for _, version := range []string{protoStable, protoNewest} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			_, err := e.connect(t, "Authorization", "kv_aaaaaaaa_"+strings.Repeat("a", 32), version)
			if err == nil || !strings.Contains(err.Error(), "Unauthorized") {
				t.Errorf("Connect(%s) with an unknown key = %v, want an Unauthorized error", version, err)
			}
		})
	}
}

func TestTokenInfosCache(t *testing.T) {
	t.Parallel()
	var c tokenInfos
	k := &keys.Key{ID: "aaaaaaaa", Name: "n", Scopes: []string{"read"}}
	first := c.get(k)
	if again := c.get(k); again != first {
		t.Errorf("get(same key) twice gave two TokenInfos")
	}
	if first.UserID != "aaaaaaaa read" || first.Extra["key_id"] != "aaaaaaaa" {
		t.Errorf("get(%s) = %+v, want UserID with the scopes and key_id in Extra", k.ID, first)
	}
	// A reload gives a new *Key; narrowed scopes give a new UserID, so the
	// SDK refuses the old session to it.
	narrowed := &keys.Key{ID: "aaaaaaaa", Name: "n", Scopes: []string{}}
	if got := c.get(narrowed); got.UserID == first.UserID {
		t.Errorf("get(key with narrowed scopes).UserID = %q, want it to differ from %q", got.UserID, first.UserID)
	}
	for i := range maxTokenInfos + 1 {
		c.get(&keys.Key{ID: fmt.Sprint(i)})
	}
	if n := c.n.Load(); n > maxTokenInfos {
		t.Errorf("cache holds %d entries, want at most %d", n, maxTokenInfos)
	}
	if again := c.get(k); again == first {
		t.Errorf("cache kept an entry across a clear")
	}
}

// TestAuditNeverNamesAnUnknownPath covers a misconfigured client that puts
// its key in the URL path: remote keys are not known to the redactor, so
// the access record must not carry the path's text.
func TestAuditNeverNamesAnUnknownPath(t *testing.T) {
	t.Parallel()
	for _, protectAll := range []bool{false, true} {
		e := start(t, 0, func(o *Options) { o.ProtectAll = protectAll })
		key, _ := e.newKey(t, "misconfigured", nil, 0, keys.Rate{})
		e.do(t, http.MethodPost, "/"+key, bearer(key), initializeBody)
		recs := e.audit.all()
		if len(recs) == 0 {
			t.Fatalf("ProtectAll=%v: no access record for a request to an unknown path", protectAll)
		}
		for _, r := range recs {
			if r.Path != "(other)" {
				t.Errorf("ProtectAll=%v: access record path = %q, want \"(other)\"", protectAll, r.Path)
			}
		}
		if strings.Contains(e.logs.String(), key) {
			t.Errorf("ProtectAll=%v: the key reached the log", protectAll)
		}
	}
}
