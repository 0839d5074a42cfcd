//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package keychain

import (
	"os"
	"syscall"
)

// lockFile blocks until it holds an exclusive flock on f. flock locks
// belong to the open file, so two opens of the path in one process
// exclude each other as two processes do.
func lockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			return err
		}
	}
}

func unlockFile(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
