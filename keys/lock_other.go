//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package keys

// lockFile does nothing on systems without flock: writes within one process
// are still serialised by the Registry's mutex, but a server and a `keys`
// command racing on the same file may lose one of their changes.
// TODO(issue 5): LockFileEx on Windows.
func lockFile(string) (unlock func(), err error) { return func() {}, nil }
