package credentials_test

import (
	"encoding/base64"
	"fmt"
	"os"

	"github.com/keyveil/keyveil/credentials"
)

func ExampleRedactor() {
	key := credentials.NewSecret("MCP_API_KEY", "sk-test-LEAKCHECK-0123456789")
	r := credentials.NewRedactor(key)

	basic := base64.StdEncoding.EncodeToString([]byte("user:sk-test-LEAKCHECK-0123456789"))
	for _, s := range []string{
		`{"error":"invalid key sk-test-LEAKCHECK-0123456789"}`,
		`GET /v1/items?api_key=sk-test-%4CEAKCHECK-0123456789&page=2`,
		`{"echo":"\u0073k-test-LEAKCHECK-0123456789"}`,
		"Authorization: Basic " + basic,
		"nothing to hide",
	} {
		fmt.Println(r.RedactString(s))
	}
	// In the Basic header, "dXNlcjp" encodes "user:" and the first two
	// bits of the key; everything that depends on the key alone is gone.
	// Output:
	// {"error":"invalid key [REDACTED:MCP_API_KEY]"}
	// GET /v1/items?api_key=[REDACTED:MCP_API_KEY]&page=2
	// {"echo":"[REDACTED:MCP_API_KEY]"}
	// Authorization: Basic dXNlcjp[REDACTED:MCP_API_KEY]
	// nothing to hide
}

func ExampleRedactor_NewWriter() {
	r := credentials.NewRedactor(credentials.NewSecret("MCP_API_KEY", "sk-test-LEAKCHECK-0123456789"))
	w := r.NewWriter(os.Stdout)
	defer w.Close()

	// The key arrives in two writes; the first line waits for neither.
	fmt.Fprint(w, "ready\nkey=sk-test-LEAK")
	fmt.Fprint(w, "CHECK-0123456789 done\n")
	// Output:
	// ready
	// key=[REDACTED:MCP_API_KEY] done
}

func ExampleRedactor_RedactFragments() {
	r := credentials.NewRedactor(credentials.NewSecret("MCP_API_KEY", "kv_live_LEAKCHECKabcdefghijklmnopqrstuvwxyz01234"))

	// What the model sent in this call: a path holding its guess of the
	// first 8 bytes of the key.
	sent := [][]byte{[]byte("/anything/kv_live_L")}
	// An echo reflects the path, and the key cut short by the API.
	body := []byte(`{"url":"/anything/kv_live_L","auth":"Bearer kv_live_LEAKCHECKabcdefghij"}`)
	out := r.RedactFragments(body, sent)
	fmt.Println(string(out))

	// Shorten only after redacting: the cut moves before the marker.
	fmt.Println(string(out[:r.Cut(out, 52, sent)]))
	// Output:
	// {"url":"/anything/kv_live_L","auth":"Bearer [REDACTED:MCP_API_KEY]"}
	// {"url":"/anything/kv_live_L","auth":"Bearer
}
