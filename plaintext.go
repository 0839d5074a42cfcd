package main

import (
	"github.com/keyveil/keyveil/credentials"
	"github.com/keyveil/keyveil/hostconfig"
)

// plainTextWarnings returns one warning per MCP host configuration file
// (see hostconfig.Known) that holds a key keyveil loaded in plain text,
// naming the file and the fix, never the value. A key there is within
// reach of the model's own tools in an IDE agent, whatever keyveil does
// with its copy.
func plainTextWarnings(set *credentials.Set, dirs hostconfig.Dirs) []string {
	var keys []hostconfig.Key
	for _, c := range set.Credentials() {
		for _, k := range c.Keys {
			keys = append(keys, hostconfig.Key{Name: k.Secret.Name(), Digest: k.Secret.Digest(), Len: k.Secret.Len()})
		}
	}
	var out []string
	for _, f := range hostconfig.Scan(hostconfig.Known(dirs), keys) {
		out = append(out, f.Message())
	}
	return out
}

// warnPlainText logs plainTextWarnings once, then a debug line saying the
// check is done, which tests wait for.
func (a *app) warnPlainText(dirs hostconfig.Dirs) {
	w := plainTextWarnings(a.set, dirs)
	for _, m := range w {
		a.logger.Warn(m)
	}
	a.logger.Debug("host config files checked for keys in plain text", "warnings", len(w))
}
