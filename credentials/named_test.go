package credentials

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadNamed(t *testing.T) {
	const pw = "sk-test-LEAKCHECK-redis"
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	if err := os.WriteFile(file, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		ok      bool
		wantErr string
	}{
		{"unset", nil, "", false, ""},
		{"value", map[string]string{"KV_PW": pw}, pw, true, ""},
		{"file", map[string]string{"KV_PW_FILE": file}, pw, true, ""},
		{"both", map[string]string{"KV_PW": pw, "KV_PW_FILE": file}, "", false, "both set"},
		{"file missing", map[string]string{"KV_PW_FILE": pw}, "", false, "does not exist"},
		{"padded", map[string]string{"KV_PW": " " + pw}, "", false, "KV_PW"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			s, ok, err := LoadNamed(nil, "KV_PW")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), pw) {
					t.Fatalf("LoadNamed = %v, want an error with %q that does not quote the value", err, tc.wantErr)
				}
				return
			}
			if err != nil || ok != tc.ok || s.Reveal() != tc.want {
				t.Fatalf("LoadNamed = %q, %v, %v; want %q, %v", s.Reveal(), ok, err, tc.want, tc.ok)
			}
			if _, set := os.LookupEnv("KV_PW"); ok && set {
				t.Error("KV_PW still set after reading")
			}
		})
	}
}
