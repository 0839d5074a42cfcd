package credentials_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/keyveil/keyveil/config"
	"github.com/keyveil/keyveil/credentials"
)

// exampleFiles writes a services file and a dotenv file, standing in for
// what an operator keeps beside keyveil, and returns their paths.
func exampleFiles(dir, baseURL string) (services, dotenv string) {
	services = filepath.Join(dir, "services.yaml")
	dotenv = filepath.Join(dir, ".env")
	_ = os.WriteFile(services, []byte(`services:
  crm:
    base_url: `+baseURL+`
    auth: { type: header, name: X-API-Key, env: EXAMPLE_CRM_KEY }
`), 0o600)
	_ = os.WriteFile(dotenv, []byte("EXAMPLE_CRM_KEY=sk-test-LEAKCHECK-0123456789\n"), 0o600)
	return services, dotenv
}

// Load reads each service's key from the environment (here, a dotenv file
// beneath it) and says where it came from. A key prints as its redaction
// marker wherever it ends up.
func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "keyveil-example")
	defer os.RemoveAll(dir)
	services, dotenv := exampleFiles(dir, "https://crm.example.com/api/v2")

	env, err := credentials.ReadEnv(dotenv) // --env-file; the real environment wins
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg, err := config.Load(services, env.Lookup)
	if err != nil {
		fmt.Println(err)
		return
	}
	set, err := credentials.Load(cfg, env)
	if err != nil {
		fmt.Println(err) // names each bad variable and the fix, never a value
		return
	}
	for _, c := range set.Credentials() {
		fmt.Printf("%s: %s from %s, key %v, fingerprint %s\n", c.Service, c.Scheme(), c.Keys[0].Source, c.Keys[0].Secret, set.Fingerprint(c.Service))
	}
	fmt.Println(set.Redactor().RedactString("log line with sk-test-LEAKCHECK-0123456789 in it"))
	// Output:
	// crm: header:X-API-Key from dotenv, key [REDACTED:EXAMPLE_CRM_KEY], fingerprint f1484606
	// log line with [REDACTED:EXAMPLE_CRM_KEY] in it
}

// A Transport attaches each service's key on that service's origin only,
// and refuses every other origin before any DNS lookup.
func ExampleTransport() {
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "crm saw X-API-Key: %v", r.Header.Get("X-API-Key") == "sk-test-LEAKCHECK-0123456789")
	}))
	defer crm.Close()
	dir, _ := os.MkdirTemp("", "keyveil-example")
	defer os.RemoveAll(dir)
	services, dotenv := exampleFiles(dir, crm.URL) // http is allowed to loopback only

	env, _ := credentials.ReadEnv(dotenv)
	cfg, _ := config.Load(services, env.Lookup)
	set, _ := credentials.Load(cfg, env)
	t := credentials.NewTransport(set, cfg, nil)
	defer t.CloseIdleConnections()
	client := t.Client() // what tools are handed; they never see a key

	resp, err := client.Get(crm.URL + "/quotes/1")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))

	_, err = client.Get("https://elsewhere.example/collect")
	fmt.Println(err)
	// Output:
	// crm saw X-API-Key: true
	// Get "https://elsewhere.example/collect": keyveil refused the request: GET https://elsewhere.example/collect: https://elsewhere.example:443 is not the origin of any configured service
}
