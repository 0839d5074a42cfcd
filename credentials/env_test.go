package credentials

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadEnvMalformedHidesContents(t *testing.T) {
	tests := []struct {
		name, content string
		wantLine      int // 0: "malformed" without a line
	}{
		{"bad key", "GOOD=dotenv-value-LEAKCHECK-AAAA\nsk-test-LEAKCHECK bad line!\nLATER=dotenv-value-LEAKCHECK-BBBB\n", 2},
		{"unterminated quote", "GOOD=dotenv-value-LEAKCHECK-AAAA\nKEY=\"sk-test-LEAKCHECK-0123\nLATER=1\n", 2},
		{"multi-line value then bad", "A=\"dotenv-value-LEAKCHECK\nstill-a\"\nB=ok\n!LEAKCHECK!\n", 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, ".env", tc.content)
			_, err := ReadEnv(p)
			if err == nil {
				t.Fatalf("ReadEnv(%s) = nil error, want malformed", tc.name)
			}
			msg := err.Error()
			if !strings.Contains(msg, p) {
				t.Errorf("ReadEnv error %q does not name the file", msg)
			}
			if want := fmt.Sprintf("line %d ", tc.wantLine); !strings.Contains(msg, want) {
				t.Errorf("ReadEnv error %q does not say %q", msg, want)
			}
			if strings.Contains(msg, "LEAKCHECK") || strings.Contains(msg, "GOOD") || strings.Contains(msg, "bad line") {
				t.Errorf("ReadEnv error %q quotes the file", msg)
			}
		})
	}
	if _, err := ReadEnv(filepath.Join(t.TempDir(), "absent.env")); err == nil || !strings.Contains(err.Error(), "absent.env") {
		t.Errorf("ReadEnv(absent file) = %v, want an error naming it", err)
	}
}

func TestBadLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int
	}{
		{"A=1\nB=2\n", 0},
		{"A=1\n!!\n", 2},
		{"A=1\r\n!!\r\nB=2\r\n", 2},
		{"!!", 1},
		{"A=\"x\ny\"\nB=1\n", 0},
		{"A=\"x\ny\nB=1\n", 1},
		{"# comment\n\nA=1\nB='unclosed\n", 4},
		{"", 0},
	}
	for _, tc := range tests {
		if got := badLine([]byte(tc.in)); got != tc.want {
			t.Errorf("badLine(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestEnvLookupAndSource(t *testing.T) {
	p := writeFile(t, ".env", "KVTEST_ENV_DOT=from-dotenv\nKVTEST_ENV_BOTH=from-dotenv\nKVTEST_ENV_F_FILE=/run/secrets/k\n")
	t.Setenv("KVTEST_ENV_BOTH", "from-env")
	t.Setenv("KVTEST_ENV_REAL", "from-env")
	env, err := ReadEnv(p)
	if err != nil {
		t.Fatalf("ReadEnv: %v", err)
	}
	noFile, err := ReadEnv("")
	if err != nil {
		t.Fatalf(`ReadEnv(""): %v`, err)
	}
	tests := []struct {
		env     *Env
		name    string
		want    string
		wantOK  bool
		wantSrc Source
	}{
		{env, "KVTEST_ENV_DOT", "from-dotenv", true, SourceDotenv},
		{env, "KVTEST_ENV_BOTH", "from-env", true, SourceEnv},
		{env, "KVTEST_ENV_REAL", "from-env", true, SourceEnv},
		{env, "KVTEST_ENV_F", "", false, SourceFile},
		{env, "KVTEST_ENV_ABSENT", "", false, SourceNone},
		{noFile, "KVTEST_ENV_DOT", "", false, SourceNone},
		{noFile, "KVTEST_ENV_REAL", "from-env", true, SourceEnv},
		{nil, "KVTEST_ENV_REAL", "from-env", true, SourceEnv},
		{nil, "KVTEST_ENV_DOT", "", false, SourceNone},
	}
	for _, tc := range tests {
		got, ok := tc.env.Lookup(tc.name)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("Lookup(%s) = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.wantOK)
		}
		if src := tc.env.Source(tc.name); src != tc.wantSrc {
			t.Errorf("Source(%s) = %q, want %q", tc.name, src, tc.wantSrc)
		}
	}
	for _, kv := range os.Environ() {
		if strings.Contains(kv, "from-dotenv") {
			t.Errorf("a dotenv value reached the process environment: %s", strings.SplitN(kv, "=", 2)[0])
		}
	}
}

func TestReadEnvRefusesHugeFile(t *testing.T) {
	t.Parallel()
	p := writeFile(t, ".env", "A="+strings.Repeat("x", maxEnvFileBytes)+"\n")
	if _, err := ReadEnv(p); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("ReadEnv(huge file) = %v, want a size error", err)
	}
}
