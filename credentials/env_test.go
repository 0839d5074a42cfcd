package credentials

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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

// TestReadEnvRefusesWhatIsNotADotenvFile: --env-file and KEYVEIL_ENV_FILE
// are read only when they name a regular file of at most maxEnvFileBytes.
// A FIFO used to hang start-up in open, /dev/zero to read a mebibyte and
// a directory to fail with a bare "is a directory".
func TestReadEnvRefusesWhatIsNotADotenvFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.env")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	huge := writeFile(t, "huge.env", "A=sk-test-LEAKCHECK-"+strings.Repeat("x", maxEnvFileBytes)+"\n")
	fine := writeFile(t, "fine.env", "KVTEST_FINE=from-dotenv\n")
	for _, tc := range []struct {
		name, path string
		want       string // a phrase of the error; "" for none
	}{
		{"regular file", fine, ""},
		{"too large", huge, "reading env file " + huge + ": larger than 1048576 bytes; is this the right file?"},
		{"FIFO", fifo, "reading env file " + fifo + ": it is a FIFO, not a regular file"},
		{"directory", dir, "reading env file " + dir + ": it is a directory, not a regular file"},
		{"dev zero", "/dev/zero", "reading env file /dev/zero: it is a device, not a regular file"},
		{"missing", filepath.Join(dir, "absent.env"), "reading env file: stat " + filepath.Join(dir, "absent.env") + ": no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, err := ReadEnv(tc.path)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("ReadEnv(%s) error = %v", tc.path, err)
				}
				if v, ok := env.Lookup("KVTEST_FINE"); !ok || v != "from-dotenv" {
					t.Errorf("ReadEnv(%s).Lookup(KVTEST_FINE) = %q, %v; want from-dotenv", tc.path, v, ok)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadEnv(%s) = %v, want an error saying %q", tc.path, err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "LEAKCHECK") {
				t.Errorf("ReadEnv(%s) error %q quotes the file", tc.path, err)
			}
		})
	}
}
