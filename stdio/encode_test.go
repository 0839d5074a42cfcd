package stdio

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// TestEncodeMatchesSDK checks that the transport writes every response as
// jsonrpc.EncodeMessage would, byte for byte, including those encodeResult
// builds itself.
func TestEncodeMatchesSDK(t *testing.T) {
	t.Parallel()
	// Results as the SDK makes them: encoding/json without HTML escaping.
	result := func(v any) json.RawMessage {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		return json.RawMessage(strings.TrimRight(b.String(), "\n"))
	}
	results := []json.RawMessage{
		result(map[string]any{"tools": []any{map[string]any{"name": "call_api", "description": "a <b> & \u2028 é"}}}),
		result([]int{1, 2}),
		result("text"),
		result(map[string]any{}),
	}
	var ids []jsonrpc.ID
	for _, v := range []any{float64(0), float64(1), float64(-7), float64(1 << 53), "abc", "", "a\"b", "a\\b", "<id>", "é", "tab\t", "\u2028"} {
		id, err := jsonrpc.MakeID(v)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	c := &conn{redact: func(p []byte) []byte { return p }}
	for _, id := range ids {
		msgs := []*jsonrpc.Response{
			{ID: id},
			{ID: id, Error: errors.New("boom")},
			{ID: id, Error: &jsonrpc.Error{Code: -32602, Message: "bad <params>"}, Result: results[0]},
		}
		for _, r := range results {
			msgs = append(msgs, &jsonrpc.Response{ID: id, Result: r})
		}
		for _, m := range msgs {
			want, err := jsonrpc.EncodeMessage(m)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.encode(m)
			if err != nil {
				t.Errorf("encode(id %v, result %s, error %v): %v", id.Raw(), m.Result, m.Error, err)
				continue
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("encode(id %v, result %s, error %v) differs from EncodeMessage (-want +got):\n%s", id.Raw(), m.Result, m.Error, diff)
			}
		}
	}
}
