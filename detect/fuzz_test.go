package detect

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzRedact: detection never panics, returns text unchanged when it
// holds none of the anchors, and otherwise changes it only by putting
// markers where spans were.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{
		"", "ghp_", `{"password":"x"}`, "AKIAIOSFODNN7EXAMPLE", "postgres://u:p@h/db",
		"-----BEGIN RSA PRIVATE KEY-----\nabc", `{"a":"\"password\\\":\\\"x"}`, "eyJhbGciOiJub25lIn0.eyJ9.",
		string(issuesJSON(1)),
	} {
		f.Add([]byte(s))
	}
	for _, fk := range fakes(5, 1) {
		f.Add([]byte(fk.text))
	}
	d := mustNew(f, &Options{Fields: []string{"data.*", "env[].value"}})
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		out, counts := d.Redact(in)
		if !bytes.Equal(in, orig) {
			t.Fatalf("Redact modified its input")
		}
		if counts == nil {
			if !bytes.Equal(out, in) {
				t.Fatalf("Redact(%q) = %q with no counts", in, out)
			}
			return
		}
		if !bytes.Contains(out, []byte("[REDACTED:")) {
			t.Fatalf("Redact(%q) = %q, counts %v but no marker", in, out, counts)
		}
		if !d.hasAnchor(in) && !bytes.Contains(in, []byte(`"`)) {
			t.Fatalf("Redact(%q) = %q: changed text that holds no anchor", in, out)
		}
	})
}

// hasAnchor reports whether text holds any anchor literal at all (an "@"
// counts: it anchors passwords in URLs).
func (d *Detector) hasAnchor(text []byte) bool {
	if d.urls && bytes.IndexByte(text, '@') >= 0 {
		return true
	}
	for _, l := range d.scanner().lits {
		if strings.Contains(string(text), l) {
			return true
		}
	}
	return false
}
