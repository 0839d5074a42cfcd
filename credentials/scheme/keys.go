package scheme

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/keyveil/keyveil/internal/valid"
)

// The scheme names that more than one scheme's messages mention.
const (
	nameOAuth2 = "oauth2_client_credentials"
	nameBasic  = "basic"
)

// setKeys returns the YAML keys s sets, "type" left out, in the order of
// Settings' fields, so that the first one a scheme does not take is the
// one reported.
func setKeys(s *Settings) []string {
	var keys []string
	add := func(k string, set bool) {
		if set {
			keys = append(keys, k)
		}
	}
	add("name", s.Name != "")
	add("env", s.Env != "")
	add("username_env", s.UsernameEnv != "")
	add("key_as", s.KeyAs != "")
	add("token_url", s.TokenURL != "")
	add("client_id_env", s.ClientIDEnv != "")
	add("client_secret_env", s.ClientSecretEnv != "")
	add("refresh_token_env", s.RefreshTokenEnv != "")
	add("scopes", len(s.Scopes) > 0)
	add("region", s.Region != "")
	add("service", s.Service != "")
	add("access_key_id_env", s.AccessKeyIDEnv != "")
	add("secret_access_key_env", s.SecretAccessKeyEnv != "")
	add("session_token_env", s.SessionTokenEnv != "")
	return keys
}

// unused returns the first key s sets that its scheme does not take, and
// an error listing the keys it does take; "" and nil when there is none.
func unused(s *Settings, takes ...string) (string, error) {
	for _, k := range setKeys(s) {
		if !slices.Contains(takes, k) {
			return k, fmt.Errorf("auth type %s takes no %s; its keys are %s", s.Type, k, strings.Join(takes, ", "))
		}
	}
	return "", nil
}

// validateKeyed checks the keys that bearer, header, query and basic
// share: env names the key's variable, and no other scheme's key is set.
// takes lists the keys the scheme reads besides type.
func validateKeyed(s *Settings, takes ...string) (string, error) {
	if s.Env == "" {
		return "env", errors.New("auth needs env: the name of the environment variable that holds the key (never the key itself)")
	}
	if err := valid.CheckEnvName("auth env", s.Env); err != nil {
		return "env", err
	}
	if s.TokenURL != "" || s.ClientIDEnv != "" || s.ClientSecretEnv != "" || len(s.Scopes) > 0 {
		return "type", fmt.Errorf("token_url, client_id_env, client_secret_env and scopes are only for auth type %s", nameOAuth2)
	}
	if !slices.Contains(takes, "username_env") && s.UsernameEnv != "" {
		return "username_env", fmt.Errorf("username_env is only for auth type %s", nameBasic)
	}
	if !slices.Contains(takes, "key_as") && s.KeyAs != "" {
		return "key_as", fmt.Errorf("key_as is only for auth type %s", nameBasic)
	}
	return unused(s, takes...)
}

// where names a part in messages: "(service "crm", auth header:X-Key)".
func where(rt Runtime, describe string) string {
	return fmt.Sprintf("(service %q, auth %s)", rt.Service, describe)
}
