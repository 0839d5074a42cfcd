// Package boundedfile reads the small files an operator names to keyveil
// (a NAME_FILE key, the --env-file dotenv file, the services file, an
// OpenAPI document, a CA bundle, an MCP host's config) within a bound of
// bytes, and only when the path is a regular file.
//
// The promise: [Read] returns, whatever the path names. A FIFO planted
// where a file belongs would otherwise hang start-up in open or read,
// /dev/zero would read for ever, and a directory would fail late with a
// confusing error. Errors name the path (the operator's own) and what it
// is, never a byte of its contents, which may be a key.
package boundedfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrTooLarge is matched (with errors.Is) by the error of [Read] for a file over its
// limit. Callers say the limit in their own words and units.
var ErrTooLarge = errors.New("larger than the limit")

// ErrNotRegular is matched (with errors.Is) by the [*NotRegularError] of
// [Read] for a path that is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// NotRegularError says that a path names something other than a regular
// file. Callers that word their own message use [Kind] of Mode.
type NotRegularError struct {
	Path string
	Mode fs.FileMode // the type bits say what it is
}

// Error says what the path is, e.g. "/tmp/x is a FIFO, not a regular file".
func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file", e.Path, Kind(e.Mode))
}

// Is reports whether target is [ErrNotRegular], so callers need not
// unpack the type to test for it.
func (e *NotRegularError) Is(target error) bool { return target == ErrNotRegular }

// Read returns the contents of the regular file at path, of at most limit
// bytes, and its FileInfo as seen once open.
//
// What is not a regular file is refused before it is opened when Stat can
// tell (opening some devices has effects of its own), and again once open,
// so swapping the path for a FIFO in between does not help: the open is
// non-blocking where FIFOs exist, so it does not wait for a writer. The
// size is checked before reading, and at most limit+1 bytes are read, so a
// file that grows meanwhile is still refused.
//
// Errors: a *fs.PathError from the system (errors.Is with fs.ErrNotExist
// and the like works), a [*NotRegularError], or one that matches
// [ErrTooLarge].
func Read(path string, limit int64) ([]byte, fs.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if err := check(path, fi, limit); err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|nonblock, 0)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, nil, err
	}
	if err := check(path, fi, limit); err != nil {
		return nil, nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(data)) > limit {
		return nil, nil, &tooLargeError{path, limit}
	}
	return data, fi, nil
}

// check refuses what fi says is not a regular file of at most limit bytes.
func check(path string, fi fs.FileInfo, limit int64) error {
	if !fi.Mode().IsRegular() {
		return &NotRegularError{Path: path, Mode: fi.Mode()}
	}
	if fi.Size() > limit {
		return &tooLargeError{path, limit}
	}
	return nil
}

// tooLargeError is the error of [Read] for a file over its limit.
type tooLargeError struct {
	path  string
	limit int64
}

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than %d bytes", e.path, e.limit)
}

func (e *tooLargeError) Is(target error) bool { return target == ErrTooLarge }

// Kind names the type of a file mode for a message: "a directory",
// "a FIFO", "a socket", "a device", or "a special file".
func Kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsRegular():
		return "a regular file"
	}
	return "a special file"
}
