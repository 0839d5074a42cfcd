package boundedfile

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestRead covers what an operator (or a model that steered one) can put
// at a path: each is refused with a sentence naming what it is, without
// hanging and without quoting a byte of it.
func TestRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fine := write("fine", "sk-test-LEAKCHECK-fine\n")
	exact := write("exact", strings.Repeat("k", 64))
	big := write("big", "sk-test-LEAKCHECK-"+strings.Repeat("x", 64))
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	link := filepath.Join(dir, "link")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		want       string // the contents; "" when an error is wanted
		is         error  // what the error matches
		text       string // what the error says
	}{
		{"regular file", fine, "sk-test-LEAKCHECK-fine\n", nil, ""},
		{"exactly the limit", exact, strings.Repeat("k", 64), nil, ""},
		{"too large", big, "", ErrTooLarge, big + " is larger than 64 bytes"},
		{"FIFO", fifo, "", ErrNotRegular, fifo + " is a FIFO, not a regular file"},
		{"symlink to a FIFO", link, "", ErrNotRegular, link + " is a FIFO, not a regular file"},
		{"directory", dir, "", ErrNotRegular, dir + " is a directory, not a regular file"},
		{"dev zero", "/dev/zero", "", ErrNotRegular, "/dev/zero is a device, not a regular file"},
		{"socket", sock, "", ErrNotRegular, sock + " is a socket, not a regular file"},
		{"missing", filepath.Join(dir, "absent"), "", fs.ErrNotExist, "no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, fi, err := Read(tc.path, 64)
			if tc.is == nil {
				if err != nil || string(data) != tc.want || fi == nil || fi.Size() != int64(len(tc.want)) {
					t.Errorf("Read(%s) = %q, %v, %v; want %q", tc.path, data, fi, err, tc.want)
				}
				return
			}
			if !errors.Is(err, tc.is) {
				t.Fatalf("Read(%s) error = %v, want one matching %v", tc.path, err, tc.is)
			}
			if data != nil || fi != nil {
				t.Errorf("Read(%s) = %q, %v with error %v; want nothing", tc.path, data, fi, err)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("Read(%s) error = %q, want it to say %q", tc.path, err, tc.text)
			}
			if strings.Contains(err.Error(), "LEAKCHECK") {
				t.Errorf("Read(%s) error = %q quotes the file", tc.path, err)
			}
		})
	}
}

// TestNotRegularErrorAs: a caller can take the path and mode out to word
// its own message.
func TestNotRegularErrorAs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, _, err := Read(dir, 1)
	var nr *NotRegularError
	if !errors.As(err, &nr) || nr.Path != dir || Kind(nr.Mode) != "a directory" {
		t.Errorf("Read(%s) error = %#v, want a *NotRegularError for a directory", dir, err)
	}
}
