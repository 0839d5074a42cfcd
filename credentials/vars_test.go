package credentials

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyveil/keyveil/config"
)

func TestSecretVars(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  *config.Config
		want []string
	}{
		{"no config", nil, []string{"KEYVEIL_STATE", "KEYVEIL_STATE_PASSWORD", "KEYVEIL_STATE_PASSWORD_FILE", "MCP_API_KEY", "MCP_API_KEY_FILE"}},
		{"every scheme but none", &config.Config{Services: []config.Service{
			{Name: "crm", Auth: config.AuthList{{Type: config.AuthHeader, Name: "X-Key", Env: "CRM_KEY"}}},
			{Name: "git", Auth: config.AuthList{{Type: config.AuthBasic, Env: "GIT_PASS", UsernameEnv: "GIT_USER"}}},
			{Name: "idp", Auth: config.AuthList{{Type: config.AuthOAuth2, ClientIDEnv: "IDP_ID", ClientSecretEnv: "IDP_SECRET"}}},
			{Name: "pub", Auth: config.AuthList{{Type: config.AuthNone}}},
			{Name: "crm2", Auth: config.AuthList{{Type: config.AuthBearer, Env: "CRM_KEY"}}},
		}}, []string{"CRM_KEY", "CRM_KEY_FILE", "GIT_PASS", "GIT_PASS_FILE", "IDP_SECRET", "IDP_SECRET_FILE", "KEYVEIL_STATE", "KEYVEIL_STATE_PASSWORD", "KEYVEIL_STATE_PASSWORD_FILE", "MCP_API_KEY", "MCP_API_KEY_FILE"}},
		{"every part of a list", &config.Config{Services: []config.Service{
			{Name: "dd", Auth: config.AuthList{
				{Type: config.AuthHeader, Name: "DD-API-KEY", Env: "DD_API_KEY"},
				{Type: config.AuthQuery, Name: "application_key", Env: "DD_APP_KEY"},
			}},
		}}, []string{"DD_API_KEY", "DD_API_KEY_FILE", "DD_APP_KEY", "DD_APP_KEY_FILE", "KEYVEIL_STATE", "KEYVEIL_STATE_PASSWORD", "KEYVEIL_STATE_PASSWORD_FILE", "MCP_API_KEY", "MCP_API_KEY_FILE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, SecretVars(tc.cfg)); diff != "" {
				t.Errorf("SecretVars() (-want +got):\n%s", diff)
			}
		})
	}
}
