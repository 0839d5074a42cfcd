package detect

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
)

// issuesJSON is a GitHub-style list of n issues, as the REST API returns
// it: URLs, node ids, SHAs in URLs, user objects, labels, prose. It holds
// no secret.
func issuesJSON(n int) []byte {
	r := rand.New(rand.NewPCG(7, 7))
	var issues []map[string]any
	for i := range n {
		num := 1347 + i
		user := map[string]any{
			"login": "octocat", "id": 583231, "node_id": "MDQ6VXNlcjU4MzIzMQ==",
			"avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4", "gravatar_id": "",
			"url": "https://api.github.com/users/octocat", "html_url": "https://github.com/octocat",
			"followers_url": "https://api.github.com/users/octocat/followers",
			"gists_url":     "https://api.github.com/users/octocat/gists{/gist_id}",
			"type":          "User", "site_admin": false,
		}
		issues = append(issues, map[string]any{
			"url":            fmt.Sprintf("https://api.github.com/repos/octocat/Hello-World/issues/%d", num),
			"repository_url": "https://api.github.com/repos/octocat/Hello-World",
			"labels_url":     fmt.Sprintf("https://api.github.com/repos/octocat/Hello-World/issues/%d/labels{/name}", num),
			"comments_url":   fmt.Sprintf("https://api.github.com/repos/octocat/Hello-World/issues/%d/comments", num),
			"html_url":       fmt.Sprintf("https://github.com/octocat/Hello-World/issues/%d", num),
			"id":             1 + r.IntN(1<<30), "node_id": "I_kwDO" + rnd(r, chAlnum, 14),
			"number": num, "title": fmt.Sprintf("Found a bug in the %s handler (#%d)", []string{"login", "upload", "search", "webhook"}[i%4], num),
			"user":   user,
			"labels": []map[string]any{{"id": 208045946, "node_id": "MDU6TGFiZWwyMDgwNDU5NDY=", "name": "bug", "color": "f29513", "default": true, "description": "Something isn't working"}},
			"state":  []string{"open", "closed"}[i%2], "locked": false, "assignee": user, "comments": r.IntN(40),
			"created_at": "2011-04-22T13:33:48Z", "updated_at": "2011-04-22T13:33:48Z", "closed_at": nil,
			"author_association": "COLLABORATOR", "active_lock_reason": nil,
			"body":      "I'm having a problem with this. Steps: run `make test` after commit " + rnd(r, chHex, 40) + ", then see request id " + uuid(r) + ".",
			"reactions": map[string]any{"url": fmt.Sprintf("https://api.github.com/repos/octocat/Hello-World/issues/%d/reactions", num), "total_count": 0, "+1": 0, "-1": 0},
		})
	}
	b, _ := json.MarshalIndent(issues, "", "  ")
	return b
}

func uuid(r *rand.Rand) string {
	h := rnd(r, chHex, 32)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// negatives are realistic secret-free payloads and decoys.
func negatives(t testing.TB) map[string]string {
	r := rand.New(rand.NewPCG(3, 3))
	decoys, err := os.ReadFile("testdata/decoys.txt")
	if err != nil {
		t.Fatal(err)
	}
	img := make([]byte, 48<<10)
	for i := range img {
		img[i] = byte(r.Uint32())
	}
	copy(img, "\x89PNG\r\n\x1a\n")
	var shas []string
	for range 200 {
		shas = append(shas, rnd(r, chHex, 40), rnd(r, chHex, 64), uuid(r))
	}
	deploy := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"app":"web"}},` +
		`"spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"web",` +
		`"image":"ghcr.io/acme/web@sha256:` + rnd(r, chHex, 64) + `",` +
		`"env":[{"name":"LOG_LEVEL","value":"info"},{"name":"DATABASE_HOST","value":"db.internal"},` +
		`{"name":"FEATURE_FLAGS","value":"new-ui,fast-search"},{"name":"PAGE_TOKEN_TTL","value":"3600"}],` +
		`"ports":[{"containerPort":8080}]}]}}}}`
	out := map[string]string{
		"decoys.txt":         string(decoys),
		"github-issues.json": string(issuesJSON(30)),
		"image.json":         `{"name":"logo.png","content":"` + base64.StdEncoding.EncodeToString(img) + `","encoding":"base64"}`,
		"hashes.json":        `{"ids":["` + strings.Join(shas, `","`) + `"]}`,
		"deployment.json":    deploy,
	}
	for i, line := range strings.Split(string(decoys), "\n") {
		out[fmt.Sprintf("decoys.txt:%d", i+1)] = line
	}
	return out
}

// contexts are the places a positive is planted: an env dump, a JSON
// field that is not itself sensitive, a YAML line, a log line.
var contexts = []func(secret string) string{
	func(s string) string { return "DEPLOY_ENV=prod\nSOME_VALUE=" + s + "\nREGION=eu-west-1\n" },
	func(s string) string {
		b, _ := json.Marshal(map[string]any{"name": "VAR", "value": s, "id": 42})
		return string(b)
	},
	func(s string) string { return "config:\n  value: " + s + "\n  retries: 3\n" },
	func(s string) string { return "2024-01-01T00:00:00Z INFO connecting with " + s + " (attempt 1)" },
}

type score struct{ tp, fn, fp int }

// TestCorpus measures precision and recall per kind over generated
// positives in several contexts and realistic negatives, and fails below
// the thresholds. `go test -run Corpus -v ./detect/` prints the table the
// README quotes.
func TestCorpus(t *testing.T) {
	t.Parallel()
	d := mustNew(t, nil)
	scores := map[string]*score{}
	get := func(k string) *score {
		if scores[k] == nil {
			scores[k] = &score{}
		}
		return scores[k]
	}
	for i, f := range fakes(11, 25) {
		in := contexts[i%len(contexts)](f.text)
		if i%len(contexts) == 1 {
			// JSON escapes newlines in a PEM block; the secret to look
			// for is escaped the same way.
			b, _ := json.Marshal(f.secret)
			f.secret = string(b[1 : len(b)-1])
		}
		got, counts := d.RedactString(in)
		s := get(f.kind)
		if counts[f.kind] >= 1 && !strings.Contains(got, f.secret) {
			s.tp++
		} else {
			s.fn++
			t.Logf("missed %s in %q -> %q", f.kind, in, got)
		}
		for k, n := range counts {
			if k != f.kind {
				get(k).fp += n
				t.Logf("%s also reported as %s in %q", f.kind, k, in)
			}
		}
	}
	// Sensitive fields: positives are the default names in their usual
	// spellings; negatives the look-alikes that must stay readable.
	sf := get(fieldKind)
	for _, n := range DefaultFields {
		for _, spelled := range []string{n, strings.ToUpper(n), snake(n)} {
			b, _ := json.Marshal(map[string]string{spelled: "v4lue", "id": "1"})
			if got, counts := d.RedactString(string(b)); counts[fieldKind] == 1 && !strings.Contains(got, "v4lue") {
				sf.tp++
			} else {
				sf.fn++
				t.Logf("missed field %s", spelled)
			}
		}
	}
	negs := negatives(t)
	for _, k := range slices.Sorted(maps.Keys(negs)) {
		got, counts := d.RedactString(negs[k])
		for kind, n := range counts {
			get(kind).fp += n
			t.Logf("false positive %s in %s: %q", kind, k, diffAround(negs[k], got))
		}
	}

	var rows []string
	for _, k := range slices.Sorted(maps.Keys(scores)) {
		s := scores[k]
		prec, rec := ratio(s.tp, s.tp+s.fp), ratio(s.tp, s.tp+s.fn)
		rows = append(rows, fmt.Sprintf("| %s | %d | %d | %d | %.3f | %.3f |", k, s.tp, s.fn, s.fp, prec, rec))
		// Every planted secret is found and no decoy is touched; these
		// generated shapes leave no room for less.
		if prec < 1 || rec < 1 {
			t.Errorf("%s: precision %.3f, recall %.3f; want 1 and 1", k, prec, rec)
		}
	}
	t.Logf("\n| kind | found | missed | false positives | precision | recall |\n| --- | --- | --- | --- | --- | --- |\n%s", strings.Join(rows, "\n"))
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

// snake spells a normalised default name the way APIs write it, for the
// ones whose words are known.
func snake(n string) string {
	for _, w := range []string{"client", "private", "api", "access", "refresh", "id", "auth", "session", "bearer", "account", "webhook", "signing", "encryption", "connection", "proxy", "set", "secret"} {
		if strings.HasPrefix(n, w) && len(n) > len(w) {
			return w + "_" + n[len(w):]
		}
	}
	return n
}

func diffAround(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return b[max(0, i-20):min(len(b), i+40)]
}

// TestIssuesFile keeps testdata/issues-30.json, which the gitleaks
// benchmark and the README's jq figures read, equal to the generator.
func TestIssuesFile(t *testing.T) {
	t.Parallel()
	got, err := os.ReadFile("testdata/issues-30.json")
	if err != nil {
		t.Fatal(err)
	}
	if want := append(issuesJSON(30), '\n'); string(got) != string(want) {
		t.Errorf("testdata/issues-30.json is stale; regenerate it from issuesJSON(30)")
	}
}
