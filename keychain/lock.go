package keychain

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockIndex takes the lock that serializes changes to the index item
// across processes, and returns the function that releases it. The index
// is read, changed and written back; without the lock two `keyveil
// secrets set` run at once (a setup script storing several keys in
// parallel) could each write back the list it read, and one name would
// drop out of `keyveil secrets list` while its secret stayed stored.
//
// The lock is an OS file lock (flock, or LockFileEx on Windows) on a file
// in the user's cache directory: the kernel releases it when the process
// dies, so a crash leaves nothing stale to clean up. Each call opens the
// file afresh, so goroutines of one process exclude each other too. The
// file holds nothing; its path is not secret.
func (s *store) lockIndex() (unlock func(), err error) {
	path := s.lockPath
	if path == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("locking the index of keyveil's secrets: %w; set HOME (or XDG_CACHE_HOME)", err)
		}
		path = filepath.Join(dir, "keyveil", "keychain-index.lock")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("locking the index of keyveil's secrets: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking the index of keyveil's secrets: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking the index of keyveil's secrets: %s: %w", path, err)
	}
	return func() {
		// Closing the file releases the lock too; unlocking first says so.
		_ = unlockFile(f)
		f.Close()
	}, nil
}
