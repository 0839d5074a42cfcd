package procguard

import (
	"os"

	"golang.org/x/sys/unix"
)

// start finds the initial environment block through os.Args (see
// argvBlock; macOS has no /proc/self/mem and keyveil is built without
// cgo), then denies ptrace attachment. PT_DENY_ATTACH stops debuggers and
// ptrace-based dumpers of the same user; it does not stop task_for_pid,
// which macOS already refuses to unentitled same-user processes of a
// hardened system, nor root.
func (g *Guard) start(opts Options) {
	if b, err := argvEnvBlock(os.Args, os.Environ()); err != nil {
		g.warnings = append(g.warnings, "cannot find the initial environment block, so ps eww may still show keys: "+err.Error())
	} else {
		g.env = b
	}
	if opts.Dumpable {
		g.warnings = append(g.warnings, DebugEnv+" is set: the process allows ptrace attachment, so a debugger of this user can read its memory (and keys); unset it outside debugging")
		return
	}
	if err := unix.PtraceDenyAttach(); err != nil {
		g.warnings = append(g.warnings, "cannot deny ptrace attachment (PT_DENY_ATTACH): "+err.Error())
	}
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		g.warnings = append(g.warnings, "cannot set the core file size limit to 0: "+err.Error())
	}
}
