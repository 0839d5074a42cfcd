package keys

import (
	"regexp"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Rate
		wantStr string
		wantErr bool
	}{
		{in: "", want: Rate{}, wantStr: ""},
		{in: "60/min", want: Rate{60, time.Minute}, wantStr: "60/min"},
		{in: "60/m", want: Rate{60, time.Minute}, wantStr: "60/min"},
		{in: "10/s", want: Rate{10, time.Second}, wantStr: "10/s"},
		{in: "10/second", want: Rate{10, time.Second}, wantStr: "10/s"},
		{in: "1000/h", want: Rate{1000, time.Hour}, wantStr: "1000/h"},
		{in: "5000/day", want: Rate{5000, 24 * time.Hour}, wantStr: "5000/d"},
		{in: "3/10s", want: Rate{3, 10 * time.Second}, wantStr: "3/10s"},
		{in: " 7 / MIN ", want: Rate{7, time.Minute}, wantStr: "7/min"},
		{in: "60", wantErr: true},
		{in: "0/min", wantErr: true},
		{in: "-1/min", wantErr: true},
		{in: "x/min", wantErr: true},
		{in: "60/fortnight", wantErr: true},
		{in: "60/-1s", wantErr: true},
		{in: "60/0s", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseRate(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseRate(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if got != tc.want {
				t.Errorf("ParseRate(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
			if s := got.String(); s != tc.wantStr {
				t.Errorf("ParseRate(%q).String() = %q, want %q", tc.in, s, tc.wantStr)
			}
			again, err := ParseRate(got.String())
			if err != nil || again != got {
				t.Errorf("ParseRate(%q) = %+v, %v; want the round trip of %+v", got.String(), again, err, got)
			}
		})
	}
}

func TestParseLifetime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "90d", want: 90 * 24 * time.Hour},
		{in: "2w", want: 14 * 24 * time.Hour},
		{in: "12h", want: 12 * time.Hour},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "0d", wantErr: true},
		{in: "-1d", wantErr: true},
		{in: "d", wantErr: true},
		{in: "soon", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseLifetime(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("ParseLifetime(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestNewMaterialShape(t *testing.T) {
	t.Parallel()
	shape := regexp.MustCompile(`^kv_[a-z2-7]{8}_[a-z2-7]{32}$`)
	seen := map[string]bool{}
	for range 100 {
		id, secret := newMaterial()
		k := format(id, secret)
		if !shape.MatchString(k) {
			t.Fatalf("format(newMaterial()) = %q, want kv_<8 base32>_<32 base32>", k)
		}
		if bits := len(secret) * 5; bits < 128 {
			t.Fatalf("secret has %d bits, want at least 128", bits)
		}
		if seen[k] {
			t.Fatalf("newMaterial returned %q twice", k)
		}
		seen[k] = true
		gotID, gotSecret, ok := split(k)
		if !ok || gotID != id || gotSecret != secret {
			t.Fatalf("split(format(%q, secret)) = %q, ok %v; want the id back", id, gotID, ok)
		}
	}
}

func TestSplitRefusesMalformed(t *testing.T) {
	t.Parallel()
	id, secret := newMaterial()
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"no prefix", id + "_" + secret},
		{"wrong prefix", "kx_" + id + "_" + secret},
		{"upper case", "kv_" + "ABCDEFGH" + "_" + secret},
		{"short id", "kv_" + id[:7] + "_" + secret},
		{"short secret", "kv_" + id + "_" + secret[:31]},
		{"long secret", "kv_" + id + "_" + secret + "a"},
		{"extra separator", "kv_" + id + "_" + secret[:16] + "_" + secret[17:]},
		{"digit outside alphabet", "kv_" + id + "_" + "0" + secret[1:]},
		{"padding", "kv_" + id + "_" + secret[:31] + "="},
		{"other vendor key", "sk-test-LEAKCHECK-0123456789"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, _, ok := split(tc.in); ok {
				t.Errorf("split(%q) ok = true, want false", tc.in)
			}
		})
	}
}

func TestNormalizeScopes(t *testing.T) {
	t.Parallel()
	got, err := normalizeScopes([]string{"write", "read", "write"})
	if err != nil || len(got) != 2 || got[0] != "read" || got[1] != "write" {
		t.Errorf("normalizeScopes([write read write]) = %q, %v; want [read write]", got, err)
	}
	for _, bad := range []string{"", "a,b", "a b", "a\tb"} {
		if _, err := normalizeScopes([]string{bad}); err == nil {
			t.Errorf("normalizeScopes([%q]) error = nil, want an error", bad)
		}
	}
	if got, err := normalizeScopes(nil); got != nil || err != nil {
		t.Errorf("normalizeScopes(nil) = %q, %v; want nil, nil", got, err)
	}
}
