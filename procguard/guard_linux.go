package procguard

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// procMem is the initial environment block reached through
// /proc/self/mem, opened while the process was still dumpable: once it
// is not, /proc/self/mem belongs to root and cannot be opened again by an
// unprivileged keyveil, but a descriptor already open keeps working.
type procMem struct {
	f          *os.File
	start, end int64 // [env_start, env_end) from /proc/self/stat
}

func (m *procMem) read() ([]byte, error) {
	b := make([]byte, m.end-m.start)
	if _, err := m.f.ReadAt(b, m.start); err != nil {
		return nil, fmt.Errorf("reading the block through /proc/self/mem: %w", unwrapPath(err))
	}
	return b, nil
}

func (m *procMem) write(off int, b []byte) error {
	if int64(off)+int64(len(b)) > m.end-m.start {
		return errors.New("write outside the environment block")
	}
	if _, err := m.f.WriteAt(b, m.start+int64(off)); err != nil {
		return fmt.Errorf("writing through /proc/self/mem: %w", unwrapPath(err))
	}
	return nil
}

// start opens /proc/self/mem and finds the block, then makes the process
// non-dumpable — in that order, because non-dumpable would forbid the
// open. The descriptor is close-on-exec and never leaves the process.
func (g *Guard) start(opts Options) {
	if m, err := openEnvBlock(); err != nil {
		g.warnings = append(g.warnings, "cannot reach the initial environment block, so /proc/PID/environ may still show keys: "+err.Error())
	} else {
		g.env = m
	}
	if opts.Dumpable {
		g.warnings = append(g.warnings, DebugEnv+" is set: the process stays dumpable, so other processes of this user can read its memory (and keys) through /proc and ptrace; unset it outside debugging")
		return
	}
	// Non-dumpable: /proc/PID/{environ,mem,maps,fd,...} become root's, a
	// same-user ptrace attach is refused, and no core file is written.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		g.warnings = append(g.warnings, "cannot make the process non-dumpable (prctl PR_SET_DUMPABLE), so other processes of this user can read its memory: "+err.Error())
	}
	// A core_pattern pipe may still collect a core from a non-dumpable
	// process under suid_dumpable=2; a zero core limit stops that too.
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		g.warnings = append(g.warnings, "cannot set the core file size limit to 0: "+err.Error())
	}
}

// openEnvBlock opens /proc/self/mem for reading and writing and reads the
// block's bounds from /proc/self/stat.
func openEnvBlock() (*procMem, error) {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return nil, fmt.Errorf("reading /proc/self/stat: %w", unwrapPath(err))
	}
	start, end, err := envBounds(stat)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile("/proc/self/mem", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("opening /proc/self/mem: %w", unwrapPath(err))
	}
	return &procMem{f: f, start: start, end: end}, nil
}

// envBounds returns env_start and env_end, fields 50 and 51 of
// /proc/PID/stat (proc(5); 48 and 49 are the arguments' bounds). Fields are counted after the command name,
// which is in parentheses and may itself hold spaces and parentheses.
func envBounds(stat []byte) (start, end int64, err error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, errors.New("/proc/self/stat has no command name")
	}
	fields := bytes.Fields(stat[i+1:]) // fields[0] is field 3, state
	const envStart, envEnd = 50 - 3, 51 - 3
	if len(fields) <= envEnd {
		return 0, 0, fmt.Errorf("/proc/self/stat has %d fields; env_start and env_end need a kernel of 3.5 or later", len(fields)+2)
	}
	start, err1 := strconv.ParseInt(string(fields[envStart]), 10, 64)
	end, err2 := strconv.ParseInt(string(fields[envEnd]), 10, 64)
	if err1 != nil || err2 != nil || start <= 0 || end < start || end-start > 64<<20 {
		return 0, 0, errors.New("/proc/self/stat gives no usable env_start and env_end")
	}
	return start, end, nil
}

// unwrapPath drops *os.PathError's repetition of the path the message
// already names.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
