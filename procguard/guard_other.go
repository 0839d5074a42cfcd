//go:build !linux && !darwin

package procguard

// start does nothing outside Linux and macOS. On Windows a same-user
// process can read keyveil's environment block (in its PEB) and memory,
// and there is no equivalent of PR_SET_DUMPABLE that stops a process of
// the same user; README "Threat model per host" says so and recommends
// keychain: (Credential Manager) there.
func (g *Guard) start(opts Options) {}
