package yamljson

import (
	"errors"
	"fmt"

	"github.com/keyveil/keyveil/internal/boundedfile"
)

// ErrNotRegular is wrapped by the error of [ReadFile] for a path that is
// not a regular file.
var ErrNotRegular = boundedfile.ErrNotRegular

// ReadFile reads the regular file at path, of at most limit bytes. A FIFO,
// a device (/dev/zero reads for ever), a socket or a directory is refused
// without being read (see [boundedfile.Read]: the open is non-blocking and
// checked once open). Errors name the path, which is the operator's own.
func ReadFile(path string, limit int64) ([]byte, error) {
	data, _, err := boundedfile.Read(path, limit)
	var nr *boundedfile.NotRegularError
	switch {
	case errors.As(err, &nr):
		return nil, fmt.Errorf("%s: %w (it is %s); name a file", path, ErrNotRegular, boundedfile.Kind(nr.Mode))
	case errors.Is(err, boundedfile.ErrTooLarge):
		return nil, fmt.Errorf("%s: larger than %d MiB, the most keyveil reads; is it the right file?", path, limit>>20)
	case err != nil:
		return nil, err
	}
	return data, nil
}
