package tools

import (
	"context"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// serviceInfo is what list_services shows about one service. It is built
// from config alone, which holds no key material: the auth scheme names the
// header or query parameter, never the value, the environment variable, a
// prefix or a fingerprint.
type serviceInfo struct {
	Name             string   `json:"name"`
	BaseURL          string   `json:"base_url"`
	Auth             string   `json:"auth"`
	Allow            []string `json:"allow"`
	Docs             string   `json:"docs"`
	TimeoutSeconds   float64  `json:"timeout_seconds"`
	MaxResponseBytes int64    `json:"max_response_bytes"`
}

type servicesList struct {
	ReadOnly bool          `json:"read_only"`
	Services []serviceInfo `json:"services"`
}

func listServicesTool(d Deps) Tool {
	service := object("One service call_api can reach.",
		[]string{"name", "base_url", "auth", "allow", "docs", "timeout_seconds", "max_response_bytes"},
		prop{"name", typed("string", "The name to pass as call_api's service.")},
		prop{"base_url", typed("string", "The base URL; call_api's path is appended to it.")},
		prop{"auth", typed("string", "How keyveil attaches the key: bearer, basic, none, header:NAME or query:NAME. The key itself is never shown.")},
		prop{"allow", arrayOf(`The allow rules, like "GET /**" or "POST /quotes/*/followups". A path segment "*" matches one segment and "**" any number; HEAD is allowed wherever GET is.`, typed("string", "One rule: METHOD /path/glob."))},
		prop{"docs", typed("string", "The operator's notes about this API; empty when there are none.")},
		prop{"timeout_seconds", typed("number", "How long one call may take.")},
		prop{"max_response_bytes", typed("integer", "Response bodies longer than this are cut off and marked truncated.")},
	)
	out := object("", []string{"read_only", "services"},
		prop{"read_only", typed("boolean", "When true, only GET and HEAD are allowed, whatever the rules say.")},
		prop{"services", arrayOf("The services, sorted by name.", service)},
	)
	out.Description = "The services call_api can reach."
	t := &mcp.Tool{
		Name:  "list_services",
		Title: "List API services",
		Description: "List the HTTP APIs that call_api can reach: each service's name, base URL, " +
			"auth scheme, allow rules and docs, and whether keyveil is in read-only mode. " +
			"Call this first to learn which paths and methods are allowed. Keys are never shown. " + jqSentence,
		InputSchema:  object("No arguments.", nil),
		OutputSchema: out,
		Annotations: &mcp.ToolAnnotations{
			Title:           "List API services",
			ReadOnlyHint:    true,
			DestructiveHint: ptr(false),
			IdempotentHint:  true,
			OpenWorldHint:   ptr(false),
		},
	}
	return Tool{Tool: t, Handler: func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		start := d.Now()
		res := d.structuredResult(d.services(), false)
		d.Audit.Record(Record{
			Time:       start,
			Tool:       "list_services",
			DurationMS: millis(d.Now().Sub(start)),
			Outcome:    outcomeOK,
		})
		return res, nil
	}}
}

func (d Deps) services() servicesList {
	l := servicesList{ReadOnly: d.ReadOnly, Services: []serviceInfo{}}
	for _, s := range d.Config.Services {
		info := serviceInfo{
			Name:             s.Name,
			BaseURL:          s.BaseURL,
			Auth:             s.Auth.Describe(),
			Allow:            []string{},
			Docs:             s.Docs,
			TimeoutSeconds:   s.Timeout.Seconds(),
			MaxResponseBytes: s.MaxResponseBytes,
		}
		for _, r := range s.Rules() {
			info.Allow = append(info.Allow, r.String())
		}
		l.Services = append(l.Services, info)
	}
	return l
}
