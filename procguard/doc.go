// Package procguard hardens the keyveil process against other programs
// running as the same OS user — in an IDE agent, the model's own shell.
//
// The promise: once [Start] and [Guard.Scrub] have run, a same-user
// process cannot read a key from keyveil's initial environment block
// (/proc/PID/environ, `ps eww`), and on Linux it cannot read keyveil's
// memory, its memory map or its environment at all, attach with ptrace,
// or get a core dump: the process is non-dumpable, as ssh-agent makes
// itself. On macOS the process denies ptrace attachment
// (PT_DENY_ATTACH) and scrubs the block `ps eww` reads. Elsewhere
// (Windows) Start does nothing; README "Threat model per host" says what
// holds there.
//
// Root (and a process with CAP_SYS_PTRACE) bypasses all of this; so does
// anyone who can read the file the key came from. Start must run first
// thing in main, before any key is read, so that no window exists in
// which the process is dumpable with a key in its heap.
package procguard
