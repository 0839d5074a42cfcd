//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package keys

import (
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on path+".lock", so that a
// running server writing last-used times and `keyveil keys revoke` in
// another process do not overwrite each other's changes. The lock file is
// separate because the registry itself is replaced by rename on every
// write, and a lock on a replaced inode protects nothing.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking key registry: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking key registry: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
