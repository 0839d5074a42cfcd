package openapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/keyveil/keyveil/config"
)

// maxName is the longest tool name MCP clients accept.
const maxName = 64

// sanitize maps s onto MCP's tool-name alphabet [A-Za-z0-9_-]: every other
// byte becomes "_", runs of "_" collapse, and "_" is trimmed from the ends.
func sanitize(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('_')
	}
	out := b.String()
	for strings.Contains(out, "__") {
		out = strings.ReplaceAll(out, "__", "_")
	}
	return strings.Trim(out, "_")
}

// namer hands out unique tool names. Names depend only on the operation
// and on the names already handed out in path order, so the same document
// and selection always give the same names.
type namer struct {
	taken map[string]bool
}

func newNamer(taken []string) *namer {
	n := &namer{taken: map[string]bool{config.ListServicesTool: true, config.CallAPITool: true}}
	for _, t := range taken {
		n.taken[t] = true
	}
	return n
}

// name returns the tool name for o: its sanitized operationId (or method
// and path when it has none), shortened to 64 bytes with a hash of the
// whole when longer, and suffixed _2, _3, … when already taken.
func (n *namer) name(o operation) string {
	base := sanitize(o.op.operationID)
	if base == "" {
		base = sanitize(strings.ToLower(o.method) + "_" + o.path)
	}
	if base == "" {
		base = "operation"
	}
	if len(base) > maxName {
		sum := sha256.Sum256([]byte(base))
		base = strings.TrimRight(base[:maxName-9], "_-") + "_" + hex.EncodeToString(sum[:4])
	}
	name := base
	for i := 2; n.taken[name]; i++ {
		suffix := fmt.Sprintf("_%d", i)
		name = base
		if len(name)+len(suffix) > maxName {
			name = name[:maxName-len(suffix)]
		}
		name += suffix
	}
	n.taken[name] = true
	return name
}

// validProp reports whether name is a property name every client accepts
// (some limit tool input names to this alphabet and length).
func validProp(name string) bool {
	return name != "" && len(name) <= maxName && sanitize(name) == name
}

// propName returns a unique input name for the parameter called name in
// place in: the name itself when it is valid and free, else a sanitized
// form prefixed with the place ("query_per_page").
func propName(name, in string, used map[string]bool) string {
	if validProp(name) && !used[name] {
		return name
	}
	base := sanitize(name)
	if base == "" || used[base] || !validProp(base) {
		base = sanitize(in + "_" + name)
	}
	if len(base) > maxName {
		base = base[:maxName]
	}
	out := base
	for i := 2; used[out] || out == ""; i++ {
		out = fmt.Sprintf("%s_%d", base, i)
	}
	return out
}
