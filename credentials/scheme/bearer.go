package scheme

import (
	"fmt"
	"net/http"
	"strings"
)

// bearer sends the key as "Authorization: Bearer KEY".
type bearer struct{}

func (bearer) Validate(s *Settings) (string, error) {
	if s.Name != "" {
		return "name", fmt.Errorf("auth type %s takes no name (the key goes in Authorization)", s.Type)
	}
	return validateKeyed(s, "env")
}

func (bearer) Vars(s *Settings) []Var {
	return []Var{{Name: s.Env, Secret: true, Role: "key"}}
}

func (bearer) Carriers(*Settings) Carriers { return Carriers{Headers: []string{"Authorization"}} }
func (bearer) Describe(*Settings) string   { return "bearer" }
func (bearer) SendsTo(*Settings) string    { return "" }

// Prepare warns about a key that already starts with "Bearer ": the API
// would receive "Bearer Bearer KEY" and answer 401 without saying why.
func (b bearer) Prepare(s *Settings, v Values, rt Runtime) (Part, []string, error) {
	key, _ := v.Get(s.Env)
	var warns []string
	if len(key) > 7 && strings.EqualFold(key[:7], "bearer ") {
		warns = append(warns, fmt.Sprintf("%s begins with \"Bearer \", which keyveil adds itself; remove it from the variable %s", s.Env, where(rt, b.Describe(s))))
	}
	return headerPart{name: "Authorization", value: hide("Bearer " + key)}, warns, nil
}

// headerPart sets one header: bearer's Authorization, header's own name.
// The value is the key itself, or "Bearer KEY", which holds it: nothing
// beyond the variable is derived.
type headerPart struct {
	name  string
	value hidden
}

func (headerPart) Derived() []Value { return nil }

func (p headerPart) Attach(out *http.Request) error {
	out.Header.Set(p.name, p.value.reveal())
	return nil
}
