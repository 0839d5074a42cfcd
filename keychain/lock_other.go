//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd || windows)

package keychain

import (
	"os"
	"sync"
)

// indexMu stands in for a file lock where keyveil has none (go-keyring
// has no keychain there either): it serializes this process alone.
var indexMu sync.Mutex

func lockFile(*os.File) error   { indexMu.Lock(); return nil }
func unlockFile(*os.File) error { indexMu.Unlock(); return nil }
