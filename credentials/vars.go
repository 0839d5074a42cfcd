package credentials

import (
	"slices"

	"github.com/keyveil/keyveil/config"
)

// defaultKeyVar is the zero-config service's key variable (see config's
// MCP_API_* service).
const defaultKeyVar = "MCP_API_KEY"

// ownSecretVars are keyveil's own variables that may hold a secret: the
// --state URL (redis://:PASSWORD@host) and its password (see [LoadNamed]).
var ownSecretVars = []string{"KEYVEIL_STATE", "KEYVEIL_STATE_PASSWORD", "KEYVEIL_STATE_PASSWORD" + fileSuffix}

// SecretVars returns the name of every environment variable whose value
// [Load] treats as secret for cfg: every secret variable of every part of
// each service's auth (a key, an OAuth client secret, a refresh token) and
// its NAME_FILE companion, whose value — a
// path — says where the key lives, and is sometimes the key itself put in
// the wrong variable. MCP_API_KEY and MCP_API_KEY_FILE are always among
// them, so that a nil cfg (a services file that did not load) still
// names the usual ones, and so are keyveil's own secret variables
// (KEYVEIL_STATE, whose URL may hold a password, and
// KEYVEIL_STATE_PASSWORD[_FILE]).
//
// It exists for procguard, which scrubs these values from the process's
// initial environment block; the names are not secret.
func SecretVars(cfg *config.Config) []string {
	names := append([]string{defaultKeyVar, defaultKeyVar + fileSuffix}, ownSecretVars...)
	if cfg != nil {
		for _, svc := range cfg.Services {
			for _, v := range svc.Auth.Vars() {
				if v.Secret {
					names = append(names, v.Name, v.Name+fileSuffix)
				}
			}
			if n := svc.TLS.ClientKeyEnv; n != "" {
				names = append(names, n, n+fileSuffix)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}
