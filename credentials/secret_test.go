package credentials

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/keyveil/keyveil/config"
)

const (
	secretValue  = "sk-test-LEAKCHECK-0123456789"
	secretMarker = "[REDACTED:MCP_API_KEY]"
)

// checkRedacted fails when out contains the value (or its hex, which %x
// would give) or lacks the marker.
func checkRedacted(t *testing.T, call, out string) {
	t.Helper()
	for _, leak := range []string{secretValue, "LEAKCHECK", hex.EncodeToString([]byte(secretValue))} {
		if strings.Contains(strings.ToLower(out), strings.ToLower(leak)) {
			t.Errorf("%s = %q, contains the value", call, out)
		}
	}
	if !strings.Contains(out, secretMarker) {
		t.Errorf("%s = %q, want it to contain %s", call, out, secretMarker)
	}
}

func TestSecretThroughFmt(t *testing.T) {
	t.Parallel()
	s := NewSecret("MCP_API_KEY", secretValue)
	type holder struct {
		Name string
		Key  Secret
	}
	for _, format := range []string{
		"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s", "%-20q", "%08s", "%.3s", "%#x", "% x", "%U", "%c",
	} {
		checkRedacted(t, fmt.Sprintf("Sprintf(%q, secret)", format), fmt.Sprintf(format, s))
		checkRedacted(t, fmt.Sprintf("Sprintf(%q, &secret)", format), fmt.Sprintf(format, &s))
		checkRedacted(t, fmt.Sprintf("Sprintf(%q, struct)", format), fmt.Sprintf(format, holder{"x", s}))
		checkRedacted(t, fmt.Sprintf("Sprintf(%q, []Secret)", format), fmt.Sprintf(format, []Secret{s}))
		checkRedacted(t, fmt.Sprintf("Sprintf(%q, map)", format), fmt.Sprintf(format, map[string]Secret{"k": s}))
	}
	checkRedacted(t, "Sprint", fmt.Sprint(s))
	checkRedacted(t, "Sprintln", fmt.Sprintln("key", s))
	checkRedacted(t, "Sprint(Credential)", fmt.Sprintf("%+v", Credential{Service: "api", Auth: config.Auth{Type: "bearer", Env: "MCP_API_KEY"}, Keys: []Key{{Secret: s, Source: SourceEnv}}}))
	if got := fmt.Sprintf("%T", s); got != "credentials.Secret" {
		t.Errorf("Sprintf(%%T) = %q, want the type name", got)
	}
}

func TestSecretThroughErrors(t *testing.T) {
	t.Parallel()
	s := NewSecret("MCP_API_KEY", secretValue)
	inner := fmt.Errorf("attaching %v", s)
	outer := fmt.Errorf("calling api: %w", inner)
	checkRedacted(t, "Errorf(%w)", outer.Error())
	checkRedacted(t, "errors.Join", errors.Join(errors.New("x"), outer).Error())
	if !errors.Is(outer, inner) {
		t.Errorf("errors.Is(outer, inner) = false; wrapping must still work")
	}
}

func TestSecretThroughSlog(t *testing.T) {
	t.Parallel()
	s := NewSecret("MCP_API_KEY", secretValue)
	type holder struct{ Key Secret }
	for _, h := range []struct {
		name string
		new  func(*bytes.Buffer) slog.Handler
	}{
		{"text", func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }},
		{"json", func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }},
	} {
		var buf bytes.Buffer
		log := slog.New(h.new(&buf))
		log.Info("loaded", "key", s)
		log.Info("loaded", slog.Any("key", s), slog.Group("g", "key", s))
		log.Info("loaded", "holder", holder{s}, "ptr", &s)
		log.With("key", s).Info("with")
		log.Info(fmt.Sprint(s))
		checkRedacted(t, h.name+" handler output", buf.String())
	}
}

func TestSecretThroughEncoders(t *testing.T) {
	t.Parallel()
	s := NewSecret("MCP_API_KEY", secretValue)
	type holder struct {
		Key  Secret
		Ptr  *Secret           `json:",omitempty"`
		Keys map[string]Secret `xml:"-"`
	}
	h := holder{Key: s, Ptr: &s, Keys: map[string]Secret{"a": s}}
	j, err := json.Marshal(h)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	checkRedacted(t, "json.Marshal", string(j))
	var back map[string]any
	if err := json.Unmarshal(j, &back); err != nil {
		t.Errorf("json.Marshal output %s is not valid JSON: %v", j, err)
	}
	x, err := xml.Marshal(h)
	if err != nil {
		t.Fatalf("xml.Marshal: %v", err)
	}
	checkRedacted(t, "xml.Marshal", string(x))
	text, _ := s.MarshalText()
	checkRedacted(t, "MarshalText", string(text))
}

func TestSecretFingerprint(t *testing.T) {
	t.Parallel()
	s := NewSecret("MCP_API_KEY", secretValue)
	fp := s.Fingerprint()
	if len(fp) != 8 {
		t.Fatalf("Fingerprint() = %q, want 8 hex digits", fp)
	}
	if _, err := hex.DecodeString(fp); err != nil {
		t.Errorf("Fingerprint() = %q, not hex", fp)
	}
	if again := NewSecret("OTHER_NAME", secretValue).Fingerprint(); again != fp {
		t.Errorf("Fingerprint() = %q then %q; want stable, independent of the name", fp, again)
	}
	if other := NewSecret("MCP_API_KEY", secretValue+"x").Fingerprint(); other == fp {
		t.Errorf("Fingerprint() of two keys is %q for both", fp)
	}
	// Not the value's prefix, suffix or any part of it, nor of its hex.
	v := strings.ToLower(secretValue)
	if strings.Contains(v, fp) || strings.Contains(hex.EncodeToString([]byte(secretValue)), fp) {
		t.Errorf("Fingerprint() = %q is part of the value", fp)
	}
	for i := 0; i+4 <= len(fp); i++ {
		if part := fp[i : i+4]; strings.Contains(v, part) {
			t.Errorf("Fingerprint() = %q shares %q with the value", fp, part)
		}
	}
	if got := NewSecret("X", "").Fingerprint(); got != "" {
		t.Errorf("Fingerprint() of an empty secret = %q, want empty", got)
	}
}

func TestSecretEqual(t *testing.T) {
	t.Parallel()
	a := NewSecret("A", secretValue)
	tests := []struct {
		b    Secret
		want bool
	}{
		{NewSecret("B", secretValue), true},
		{NewSecret("A", secretValue+"9"), false},
		{NewSecret("A", secretValue[:len(secretValue)-1]+"X"), false},
		{NewSecret("A", ""), false},
	}
	for _, tc := range tests {
		if got := a.Equal(tc.b); got != tc.want {
			t.Errorf("Equal(%d-byte secret) = %v, want %v", tc.b.Len(), got, tc.want)
		}
	}
	if a.Name() != "A" || a.Len() != len(secretValue) || a.IsZero() || !NewSecret("A", "").IsZero() {
		t.Errorf("Name, Len, IsZero = %q, %d, %v; want A, %d, false", a.Name(), a.Len(), a.IsZero(), len(secretValue))
	}
}

// TestSecretInUnexportedField covers the path fmt takes without calling
// Format: a Secret inside an unexported field is printed by reflection.
func TestSecretInUnexportedField(t *testing.T) {
	t.Parallel()
	const value = "sk-test-LEAKCHECK-0123456789"
	type inner struct{ k Secret }
	type outer struct {
		in  inner
		ptr *inner
		arr [1]Secret
	}
	o := outer{in: inner{k: NewSecret("K", value)}, ptr: &inner{k: NewSecret("K", value)}, arr: [1]Secret{NewSecret("K", value)}}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		if got := fmt.Sprintf(verb, o); strings.Contains(got, value) || strings.Contains(got, "LEAKCHECK") {
			t.Errorf("Sprintf(%q, struct with unexported Secret) = %q, contains the value", verb, got)
		}
	}
}
