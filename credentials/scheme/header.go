package scheme

import (
	"fmt"

	"github.com/keyveil/keyveil/internal/valid"
)

// header sends the key as the value of a header the API names
// ("X-API-Key: KEY").
type header struct{}

func (header) Validate(s *Settings) (string, error) {
	if s.Name == "" || !valid.Token(s.Name) {
		return "name", fmt.Errorf("auth type %s needs the %s name that carries the key, like %s:X-API-Key", s.Type, s.Type, s.Type)
	}
	return validateKeyed(s, "name", "env")
}

func (header) Vars(s *Settings) []Var {
	return []Var{{Name: s.Env, Secret: true, Role: "key"}}
}

func (header) Carriers(s *Settings) Carriers { return Carriers{Headers: []string{s.Name}} }
func (header) Describe(s *Settings) string   { return "header:" + s.Name }
func (header) SendsTo(*Settings) string      { return "" }

func (header) Prepare(s *Settings, v Values, _ Runtime) (Part, []string, error) {
	key, _ := v.Get(s.Env)
	return headerPart{name: s.Name, value: hide(key)}, nil, nil
}
