package yamljson

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// ErrNotRegular is wrapped by the error of [ReadFile] for a path that is
// not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// ReadFile reads the regular file at path, of at most limit bytes. A FIFO,
// a device (/dev/zero reads for ever), a socket or a directory is refused
// without being read: the file is opened non-blocking (a FIFO's open
// would otherwise wait for a writer) and checked once open, so swapping
// the path for a FIFO after a check does not help either. Errors name the
// path, which is the operator's own.
func ReadFile(path string, limit int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := regular(path, fi, limit); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := regular(path, fi, limit); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, tooBig(path, limit)
	}
	return data, nil
}

func regular(path string, fi os.FileInfo, limit int64) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: %w (it is %s); name a file", path, ErrNotRegular, kind(fi.Mode()))
	}
	if fi.Size() > limit {
		return tooBig(path, limit)
	}
	return nil
}

func tooBig(path string, limit int64) error {
	return fmt.Errorf("%s: larger than %d MiB, the most keyveil reads; is it the right file?", path, limit>>20)
}

// kind names a file mode's type for a message.
func kind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return "not a plain file"
}
