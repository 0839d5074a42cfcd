package scheme

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/keyveil/keyveil/internal/valid"
)

// query sends the key as a query parameter ("?api_key=KEY"). The
// Transport strips the parameter from every request and from same-origin
// Location headers, so that the key reaches no URL the model sees.
type query struct{}

func (query) Validate(s *Settings) (string, error) {
	if s.Name == "" || !valid.Token(s.Name) {
		return "name", fmt.Errorf("auth type %s needs the %s name that carries the key, like %s:X-API-Key", s.Type, s.Type, s.Type)
	}
	return validateKeyed(s, "name", "env")
}

func (query) Vars(s *Settings) []Var {
	return []Var{{Name: s.Env, Secret: true, Role: "key"}}
}

func (query) Carriers(s *Settings) Carriers { return Carriers{Params: []string{s.Name}} }
func (query) Describe(s *Settings) string   { return "query:" + s.Name }
func (query) SendsTo(*Settings) string      { return "" }

func (query) Prepare(s *Settings, v Values, _ Runtime) (Part, []string, error) {
	key, _ := v.Get(s.Env)
	return queryPart{name: s.Name, value: hide(key)}, nil, nil
}

// queryPart appends name=value to the query, leaving the rest as written.
type queryPart struct {
	name  string
	value hidden
}

func (queryPart) Derived() []Value { return nil }

func (p queryPart) Attach(out *http.Request) error {
	q := out.URL.RawQuery
	if q != "" {
		q += "&"
	}
	out.URL.RawQuery = q + url.QueryEscape(p.name) + "=" + url.QueryEscape(p.value.reveal())
	return nil
}
