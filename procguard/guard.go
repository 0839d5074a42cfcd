package procguard

import (
	"slices"
	"sync"
)

// DebugEnv is the environment variable that, set to a true value, keeps
// the process dumpable and attachable so a developer can attach a
// debugger or read a core dump. The environment block is still scrubbed.
// Whoever uses it is warned through [Guard.Warnings].
const DebugEnv = "KEYVEIL_DEBUG_DUMPABLE"

// Options configure [Start]. The zero value hardens fully.
type Options struct {
	// Dumpable leaves the process dumpable and attachable (see DebugEnv);
	// false: non-dumpable on Linux, PT_DENY_ATTACH on macOS.
	Dumpable bool
}

// Guard is the hardening applied to this process, and what is left to do:
// scrubbing the secret variables' values once their names are known. A
// nil *Guard does nothing, so tests that drive keyveil in process need no
// guard. Its methods are safe for concurrent use.
type Guard struct {
	mu       sync.Mutex
	env      envBlock // the initial environment block; nil when it cannot be rewritten
	warnings []string
}

// Start hardens the process (see the package doc) and prepares to scrub
// the initial environment block. It never fails: a step the kernel refuses
// becomes a warning, since keyveil must still start where, say, /proc is
// not mounted. Call it once, first thing in main.
func Start(opts Options) *Guard {
	g := &Guard{}
	g.start(opts)
	return g
}

// Scrub overwrites, in the process's initial environment block, the value
// of every variable named in names (each occurrence), so that
// /proc/PID/environ and `ps eww` show NAME= and no value. The process's
// own view (os.Getenv) is a copy made by the Go runtime and is not
// affected. It may be called more than once; problems become warnings.
func (g *Guard) Scrub(names []string) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.env == nil {
		return
	}
	if err := scrub(g.env, names); err != nil {
		g.warnings = append(g.warnings, "cannot scrub keys from the initial environment block, so /proc/PID/environ or ps eww may still show them: "+err.Error())
	}
}

// Warnings returns what Start and Scrub could not do, and whether
// hardening was turned off, as sentences for the start-up log. They name
// variables, never values.
func (g *Guard) Warnings() []string {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.warnings)
}

// envBlock reads and writes the process's initial environment block, the
// NUL-separated NAME=value strings the kernel placed at exec.
type envBlock interface {
	// read returns a copy of the whole block.
	read() ([]byte, error)
	// write overwrites the block's bytes from offset off with b.
	write(off int, b []byte) error
}

// scrub overwrites with NUL bytes the value of every entry of env whose
// name is in names. NULs rather than a visible filler: a reader sees an
// empty value, and the block's structure (entries end at NUL) holds.
func scrub(env envBlock, names []string) error {
	if len(names) == 0 {
		return nil
	}
	block, err := env.read()
	if err != nil {
		return err
	}
	for _, r := range secretValues(block, names) {
		if err := env.write(r.off, make([]byte, r.n)); err != nil {
			return err
		}
	}
	return nil
}

// span is a range of bytes in the block: n bytes from off.
type span struct{ off, n int }

// secretValues returns where, in block, the values of the named
// variables are: every NUL-terminated NAME=value entry whose NAME is in
// names. Empty values are skipped.
func secretValues(block []byte, names []string) []span {
	var out []span
	for off := 0; off < len(block); {
		end := off
		for end < len(block) && block[end] != 0 {
			end++
		}
		entry := block[off:end]
		for i, c := range entry {
			if c != '=' {
				continue
			}
			if i+1 < len(entry) && slices.Contains(names, string(entry[:i])) {
				out = append(out, span{off + i + 1, len(entry) - i - 1})
			}
			break
		}
		off = end + 1
	}
	return out
}
