package scheme

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/keyveil/keyveil/internal/valid"
)

// Where Basic auth carries the key ([Settings.KeyAs]).
const (
	KeyAsPassword = "password" // user from UsernameEnv (or empty), password = KEY
	KeyAsUsername = "username" // user = KEY, password empty (Stripe and others)
)

// basic sends "Authorization: Basic base64(user:KEY)", or base64(KEY:)
// with key_as: username.
type basic struct{}

func (basic) Validate(s *Settings) (string, error) {
	if s.Name != "" {
		return "name", fmt.Errorf("auth type %s takes no name (the key goes in Authorization)", s.Type)
	}
	if field, err := validateKeyed(s, "env", "username_env", "key_as"); err != nil {
		return field, err
	}
	switch s.KeyAs {
	case "", KeyAsPassword:
		s.KeyAs = KeyAsPassword
	case KeyAsUsername:
		if s.UsernameEnv != "" {
			return "username_env", fmt.Errorf("key_as: username sends the key as the user name and no password, so username_env has nothing to do; remove it")
		}
	default:
		return "key_as", fmt.Errorf("key_as %s is not known; use password (user from username_env, password = key) or username (user = key, no password, as Stripe expects)", valid.Quote(s.KeyAs))
	}
	if s.UsernameEnv != "" {
		if err := valid.CheckEnvName("auth username_env", s.UsernameEnv); err != nil {
			return "username_env", err
		}
	}
	return "", nil
}

func (basic) Vars(s *Settings) []Var {
	vs := []Var{{Name: s.Env, Secret: true, Role: "key"}}
	if s.UsernameEnv != "" && s.KeyAs != KeyAsUsername {
		// Not secret, and legal to leave unset (some APIs take an
		// empty user); Prepare warns.
		vs = append(vs, Var{Name: s.UsernameEnv, Optional: true, Role: "Basic-auth user name"})
	}
	return vs
}

func (basic) Carriers(*Settings) Carriers { return Carriers{Headers: []string{"Authorization"}} }

func (basic) Describe(s *Settings) string {
	if s.KeyAs == KeyAsUsername {
		return "basic:key-as-username"
	}
	return "basic"
}

func (basic) SendsTo(*Settings) string { return "" }

// Prepare refuses a user name with ':', which Basic auth cannot carry, and
// derives the "user:key" text the header encodes, which the Redactor must
// know to catch its encodings.
func (b basic) Prepare(s *Settings, v Values, rt Runtime) (Part, []string, error) {
	key, _ := v.Get(s.Env)
	if s.KeyAs == KeyAsUsername {
		return basicPart{name: s.Env, user: hide(key)}, nil, nil
	}
	var warns []string
	user := ""
	if s.UsernameEnv != "" {
		user, _ = v.Get(s.UsernameEnv)
		if strings.Contains(user, ":") {
			return nil, nil, fmt.Errorf("%s contains \":\", which a Basic-auth user name cannot; check the variable (service %q, auth basic)", s.UsernameEnv, rt.Service)
		}
		if strings.TrimSpace(user) == "" {
			// Legal, but usually a variable left out; the API's 401
			// would not say which.
			warns = append(warns, fmt.Sprintf("%s is not set, so Basic auth sends an empty user name with the key as password (service %q); set %s, or use key_as: username (MCP_API_AUTH=bearer if the API takes the key alone)", s.UsernameEnv, rt.Service, s.UsernameEnv))
		}
	}
	return basicPart{name: s.Env, user: hide(user), pass: hide(key)}, warns, nil
}

// basicPart sets "Authorization: Basic base64(user:pass)". name is the
// key's variable, which names the derived value too.
type basicPart struct {
	name       string
	user, pass hidden
}

// Derived is "user:pass", the text the header encodes: the Redactor must
// know it to catch its encodings.
func (p basicPart) Derived() []Value {
	return []Value{{Name: p.name, Value: p.user.reveal() + ":" + p.pass.reveal()}}
}

func (p basicPart) Attach(out *http.Request) error {
	out.SetBasicAuth(p.user.reveal(), p.pass.reveal())
	return nil
}
