package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/keyveil/keyveil/config"
	"github.com/keyveil/keyveil/credentials"
	"github.com/keyveil/keyveil/credentials/scheme"
	"github.com/keyveil/keyveil/hostconfig"
)

// check explains the configuration a person is about to run and says
// whether it will work. It exits 0 only when keyveil would start and, with
// --ping, every service accepted its key. Nothing it prints shows a value or
// a prefix of one: its output passes the redactor, and fingerprints are
// hashes.
func check(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, err := parseOptions("check", args, true)
	if err != nil {
		return optionsExit("check", err, stdout, stderr)
	}
	a, err := load(opts, stderr)
	if err != nil {
		printf(stdout, "keyveil check: NOT READY\n\n")
		for _, line := range problems(err) {
			printf(stdout, "  - %s\n", line)
		}
		printf(stdout, "\nFix the items above, then run keyveil check again.\n")
		return 1
	}
	out := a.red.NewWriter(stdout)
	defer out.Close()
	defer a.stderr.Close()

	source := "the environment (MCP_API_*)"
	if a.cfg.File != "" {
		source = a.cfg.File
	}
	printf(out, "keyveil check: configuration from %s\n\n", source)

	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	printf(tw, "SERVICE\tBASE URL\tAUTH\tKEY VARIABLE\tSOURCE\tKEY\tFINGERPRINT\tBOUND TO\n")
	for _, line := range credentialLines(a.cfg, a.set.Credentials()) {
		printf(tw, "%s\n", strings.Join(line, "\t"))
	}
	_ = tw.Flush()
	printTLS(out, a, time.Now())

	printf(out, "\nAllowed requests (everything else is refused before it leaves keyveil):\n")
	for _, s := range a.cfg.Services {
		if !s.CallAPI {
			printf(out, "  %-12s (call_api off: only its declared tools)\n", s.Name)
			continue
		}
		for _, r := range s.Rules() {
			note := ""
			if opts.readOnly && r.Method != http.MethodGet && r.Method != http.MethodHead {
				note = "  (off: --read-only)"
			}
			printf(out, "  %-12s %s%s\n", s.Name, r, note)
		}
	}

	printf(out, "\nGuardrails:\n")
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, s := range a.cfg.Services {
		idem := "off"
		if s.IdempotencyOn() {
			idem = "on"
		}
		confirm := strings.Join(s.ConfirmMethods, " ")
		if confirm == "" {
			confirm = "none"
		}
		printf(tw, "  %s\trate %s\tconfirm %s\tidempotency keys %s\n", s.Name, s.Limit(), confirm, idem)
	}
	for _, t := range a.cfg.Tools {
		if t.NeedsConfirm() || !t.Limit().IsZero() {
			printf(tw, "  %s\trate %s\tconfirm %v\t\n", t.Name, t.Limit(), t.NeedsConfirm())
		}
	}
	_ = tw.Flush()

	list, size, err := listTools(ctx, a)
	if err != nil {
		printf(out, "\nkeyveil check: NOT READY\n  - listing tools: %v\n", err)
		return 1
	}
	printf(out, "\nTools offered to the model (tools/list: %d tools, %d bytes, about %d tokens, before the first call):\n", len(list), size, tokens(size))
	sizes := toolSizes(list)
	heavy := heaviest(sizes)
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for i, t := range list {
		mode := "may change data"
		if t.Annotations != nil && t.Annotations.ReadOnlyHint {
			mode = "read-only"
		}
		flag := ""
		if heavy[i] {
			flag = "  <- heaviest"
		}
		printf(tw, "  %s\t%s\t%d bytes\t~%d tokens%s\n", t.Name, mode, sizes[i], tokens(sizes[i]), flag)
	}
	_ = tw.Flush()
	if len(heavy) > 0 {
		printf(out, "Every session pays for tools/list in tokens. The heaviest tools are marked; for OpenAPI imports, schema: compact (the default) keeps them small, and fewer operations keep the list short.\n")
	}
	var hidden []string
	for _, t := range a.cfg.Tools {
		if h := a.cfg.Hidden(t, opts.readOnly, a.cfg.Scopes); h.Hidden() {
			hidden = append(hidden, fmt.Sprintf("  %s: %s", t.Name, h.Why))
		}
	}
	if len(hidden) > 0 {
		printf(out, "Declared tools not offered:\n%s\n", strings.Join(hidden, "\n"))
	}
	if len(a.cfg.Scopes) > 0 {
		printf(out, "Granted scopes: %s\n", strings.Join(a.cfg.Scopes, ", "))
	}

	ready := true
	if w := append(a.warnings(), plainTextWarnings(a.set, hostconfig.Dirs{})...); len(w) > 0 {
		printf(out, "\nWarnings:\n")
		for _, m := range w {
			printf(out, "  - %s\n", m)
		}
	}
	if opts.ping {
		printf(out, "\nPing (one authenticated GET to each base URL):\n")
		for _, s := range a.cfg.Services {
			ok, msg := ping(ctx, a.client, s)
			ready = ready && ok
			printf(out, "  %-12s %s\n", s.Name, msg)
		}
	}
	if !ready {
		printf(out, "\nkeyveil check: NOT READY (see ping results above)\n")
		return 1
	}
	printf(out, "\nkeyveil check: READY. Add keyveil to your MCP host (see README.md) and restart the host.\n")
	return 0
}

// credentialLines returns the rows of check's credential table: one per
// part of each service's auth, and one more for each further secret
// variable a part reads (an OAuth client secret and refresh token). The
// service and base URL are written on a service's first row only. Nothing
// in a row is a value: fingerprints are hashes.
func credentialLines(cfg *config.Config, creds []credentials.Credential) [][]string {
	var rows [][]string
	last := ""
	for _, c := range creds {
		svc, base := c.Service, ""
		if s, ok := cfg.Service(c.Service); ok {
			base = s.BaseURL
		}
		if c.Service == last {
			svc, base = "", ""
		}
		last = c.Service
		bound := c.Origin
		if bound == "" {
			bound = "-"
		}
		if len(c.Keys) == 0 {
			rows = append(rows, []string{svc, base, c.Scheme(), "-", string(credentials.SourceNone), "not needed", "-", bound})
			continue
		}
		for i, k := range c.Keys {
			scheme := c.Scheme()
			if i > 0 {
				svc, base, scheme = "", "", "  +"
			}
			src := string(k.Source)
			if k.Path != "" {
				src += " " + k.Path
			}
			rows = append(rows, []string{svc, base, scheme, k.Secret.Name(), src, fmt.Sprintf("set (%d bytes)", k.Secret.Len()), k.Secret.Fingerprint(), bound})
		}
	}
	return rows
}

// authNamed reports whether every part of auth names its variables well
// enough for credentials.Load to look them up: its type is known and it
// validates.
func authNamed(auth config.AuthList) bool {
	for _, a := range auth {
		sc, ok := scheme.Lookup(strings.ToLower(a.Type))
		if !ok {
			return false
		}
		if _, err := sc.Validate(&a); err != nil {
			return false
		}
	}
	return len(auth) > 0
}

// configError is a problem with the configuration, carrying what could
// be read of it, so that keyveil check can look at the credentials too.
type configError struct {
	err error
	cfg *config.Config // partial, or nil
	env *credentials.Env
}

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// problems lists everything wrong, one line each. load stops at the
// configuration's first failing stage; the credentials of the services that
// could be read are checked as well, so a new user sees MCP_API_BASE_URL and
// MCP_API_KEY together rather than one per run. The credentials' messages
// name variables, never values.
func problems(err error) []string {
	lines := strings.Split(err.Error(), "\n")
	var ce *configError
	if !errors.As(err, &ce) || ce.cfg == nil || ce.env == nil {
		return lines
	}
	// Only services whose credentials are named well enough to look up:
	// the others' problems are already in err.
	part := *ce.cfg
	part.Services = slices.DeleteFunc(slices.Clone(part.Services), func(s config.Service) bool {
		return !authNamed(s.Auth)
	})
	_, cerr := credentials.Load(&part, ce.env)
	if cerr == nil {
		return lines
	}
	for _, l := range strings.Split(cerr.Error(), "\n") {
		if !slices.Contains(lines, l) {
			lines = append(lines, l)
		}
	}
	return lines
}

// warnings returns what keyveil check lists and serve logs at start-up:
// the configuration's warnings, the credentials', then what process
// hardening could not do (procguard). Keys in plain text in host configs
// (plainTextWarnings) come after them.
func (a *app) warnings() []string {
	w := append(slices.Clone(a.cfg.Warnings), a.set.Warnings()...)
	return append(w, proc.Warnings()...)
}

// tokens estimates the tokens n bytes of JSON cost a model: about 4 bytes
// a token is the usual rule of thumb for English and JSON.
func tokens(n int) int { return (n + 3) / 4 }

// toolSizes returns the size of each tool's definition as tools/list
// sends it.
func toolSizes(list []*mcp.Tool) []int {
	out := make([]int, len(list))
	for i, t := range list {
		b, _ := json.Marshal(t)
		out[i] = len(b)
	}
	return out
}

// heaviestShare is how many of the tools check flags as heaviest: the top
// tenth, at least one, and only when there are several tools and the tool
// is over heavyTool bytes.
const (
	heaviestShare = 10
	heavyTool     = 1200 // bytes: github-mcp-server's hand-written tools average about this
)

// heaviest marks the largest tools by index.
func heaviest(sizes []int) map[int]bool {
	out := map[int]bool{}
	if len(sizes) < 2 {
		return out
	}
	idx := make([]int, len(sizes))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return sizes[b] - sizes[a] })
	for _, i := range idx[:max(1, len(idx)/heaviestShare)] {
		if sizes[i] > heavyTool {
			out[i] = true
		}
	}
	return out
}

// listTools asks a real in-process client for tools/list, so check shows
// exactly what the model will see, and measures the payload's size.
func listTools(ctx context.Context, a *app) ([]*mcp.Tool, int, error) {
	ct, st := mcp.NewInMemoryTransports()
	ss, err := a.newServer(nil, nil).Connect(ctx, st, nil)
	if err != nil {
		return nil, 0, err
	}
	defer ss.Close()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "keyveil-check", Version: versionString()}, nil).Connect(ctx, ct, nil)
	if err != nil {
		return nil, 0, err
	}
	defer cs.Close()
	res, err := cs.ListTools(ctx, nil)
	if err != nil {
		return nil, 0, err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return nil, 0, err
	}
	return res.Tools, len(b), nil
}

// ping makes one authenticated GET to the service's base URL and says
// whether the key was accepted. A 404 still proves the key was not rejected;
// 401 and 403 mean it was.
func ping(ctx context.Context, client *http.Client, s config.Service) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.BaseURL+"/", nil)
	if err != nil {
		return false, "cannot build request: " + err.Error()
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		// url.Error's text holds the full URL, query key included; its
		// inner error names only the address.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return false, fmt.Sprintf("FAILED: no answer within %s", s.Timeout)
		}
		return false, "FAILED: " + err.Error()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		if s.Auth.Signs() {
			// A signature for the wrong region or signing name is refused
			// just like a wrong key, and is the likelier mistake.
			return false, fmt.Sprintf("FAILED: HTTP %d in %s: the service refused the signed request; check the keys, and that region and service (the signing name, such as execute-api) are the API's", resp.StatusCode, took)
		}
		return false, fmt.Sprintf("FAILED: HTTP %d in %s: the service rejected the key; check that it is current and has access", resp.StatusCode, took)
	case resp.StatusCode >= 500:
		return false, fmt.Sprintf("FAILED: HTTP %d in %s: the service is failing", resp.StatusCode, took)
	case resp.StatusCode >= 400:
		return true, fmt.Sprintf("ok: HTTP %d in %s (reachable; the key was not rejected)", resp.StatusCode, took)
	}
	return true, fmt.Sprintf("ok: HTTP %d in %s", resp.StatusCode, took)
}
