//go:build darwin || linux

package procguard

import (
	"errors"
	"unsafe"
)

// argvBlock is the initial environment block reached through the Go
// runtime's own view of the process's start: the strings of os.Args are
// not copies, they point into the strings area the kernel wrote at exec,
// and the environment strings follow the last argument's NUL (on macOS,
// before the "apple" strings; on Linux, below the executable's path).
// That area is what macOS's KERN_PROCARGS2 — and so `ps eww` — reads.
//
// macOS uses it because it has no /proc/self/mem and cgo is off; Linux
// uses /proc/self/mem, and builds this only so its tests exercise it.
type argvBlock struct{ b []byte }

// argvEnvBlock finds the block after args' last string and checks, entry
// by entry, that it holds exactly env (the environment as the runtime
// copied it at start, in order), reading no further than it has matched.
// Any difference — a copied argument, an empty entry the runtime dropped,
// a different layout — is an error, and nothing is ever written.
func argvEnvBlock(args, env []string) (*argvBlock, error) {
	if len(args) == 0 {
		return nil, errors.New("no arguments to find the block from")
	}
	last := args[len(args)-1]
	p := unsafe.StringData(last)
	if p == nil {
		return nil, errors.New("the last argument has no address")
	}
	start := unsafe.Add(unsafe.Pointer(p), len(last)+1)
	if *(*byte)(unsafe.Add(start, -1)) != 0 {
		return nil, errors.New("the arguments are not the kernel's strings")
	}
	n := 0
	for _, e := range env {
		for i := 0; i <= len(e); i++ {
			want := byte(0)
			if i < len(e) {
				want = e[i]
			}
			if *(*byte)(unsafe.Add(start, n+i)) != want {
				return nil, errors.New("the environment strings are not where the arguments end")
			}
		}
		n += len(e) + 1
	}
	return &argvBlock{b: unsafe.Slice((*byte)(start), n)}, nil
}

func (a *argvBlock) read() ([]byte, error) { return append([]byte(nil), a.b...), nil }

func (a *argvBlock) write(off int, b []byte) error {
	if off < 0 || off+len(b) > len(a.b) {
		return errors.New("write outside the environment block")
	}
	copy(a.b[off:], b)
	return nil
}
