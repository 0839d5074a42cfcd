package main

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// contractEnv are the environment variables keyveil reads: every KEYVEIL_*
// option (from the env tags of options) and the zero-config service's.
func contractEnv() []string {
	names := []string{"MCP_API_KEY", "MCP_API_KEY_FILE", "MCP_API_BASE_URL", "KEYVEIL_STATE_PASSWORD", "KEYVEIL_STATE_PASSWORD_FILE"}
	t := reflect.TypeFor[options]()
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("env"); tag != "" {
			names = append(names, tag)
		}
	}
	return names
}

// checkServeArgs checks a container's command: serve --http on all
// interfaces behind the proxy, --state redis, and only flags that exist.
func checkServeArgs(t *testing.T, where string, args []string) {
	t.Helper()
	if len(args) == 0 || args[0] != "serve" {
		t.Fatalf("%s: command %q does not start with serve", where, args)
	}
	if _, err := parseOptions("serve", args[1:], false); err != nil {
		t.Errorf("%s: keyveil serve would refuse %q: %v", where, args[1:], err)
	}
	for i, a := range args {
		if a == "--state" && (i+1 >= len(args) || !strings.HasPrefix(args[i+1], "redis://")) {
			t.Errorf("%s: --state without a redis:// URL", where)
		}
	}
	for _, want := range []string{"--http", "--state"} {
		if !slices.Contains(args, want) {
			t.Errorf("%s: command %q lacks %s", where, args, want)
		}
	}
}

func readYAML(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var docs []map[string]any
	for {
		var d map[string]any
		if err := dec.Decode(&d); err != nil {
			if err.Error() == "EOF" {
				return docs
			}
			t.Fatalf("%s: %v", path, err)
		}
		docs = append(docs, d)
	}
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestDeployCompose: the compose file runs three keyveil replicas on one
// Redis behind Caddy with TLS, with flags and variables keyveil knows.
func TestDeployCompose(t *testing.T) {
	docs := readYAML(t, "deploy/docker-compose.yml")
	services := docs[0]["services"].(map[string]any)
	env := contractEnv()
	replicas := 0
	for name, v := range services {
		svc := v.(map[string]any)
		if !strings.HasPrefix(name, "keyveil") {
			continue
		}
		replicas++
		checkServeArgs(t, name, strs(svc["command"]))
		for k := range svc["environment"].(map[string]any) {
			if !slices.Contains(env, k) {
				t.Errorf("%s: environment %s is not a variable keyveil reads", name, k)
			}
		}
	}
	if replicas != 3 {
		t.Errorf("%d keyveil services, want 3", replicas)
	}
	if _, ok := services["redis"]; !ok {
		t.Error("no redis service")
	}
	caddy, ok := services["caddy"].(map[string]any)
	if !ok {
		t.Fatal("no caddy service")
	}
	caddyfile, err := os.ReadFile("deploy/Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tls ", "keyveil-1:8787", "keyveil-2:8787", "keyveil-3:8787", "health_uri /healthz"} {
		if !strings.Contains(string(caddyfile), want) {
			t.Errorf("Caddyfile lacks %q", want)
		}
	}
	if !slices.ContainsFunc(strs(caddy["ports"]), func(p string) bool { return strings.HasSuffix(p, ":443") }) {
		t.Errorf("caddy publishes %v, want the TLS port 443", caddy["ports"])
	}
}

// TestDeployKubernetes: a Deployment with readiness on /healthz, a Service
// in front of it, and a Secret that holds every secretKeyRef's key.
func TestDeployKubernetes(t *testing.T) {
	docs := readYAML(t, "deploy/kubernetes/keyveil.yaml")
	byKind := map[string]map[string]any{}
	for _, d := range docs {
		byKind[d["kind"].(string)] = d
	}
	for _, k := range []string{"Secret", "Deployment", "Service"} {
		if byKind[k] == nil {
			t.Fatalf("no %s", k)
		}
	}
	secretKeys := byKind["Secret"]["stringData"].(map[string]any)
	spec := byKind["Deployment"]["spec"].(map[string]any)
	if n, _ := spec["replicas"].(int); n < 2 {
		t.Errorf("Deployment replicas = %v, want several", spec["replicas"])
	}
	pod := spec["template"].(map[string]any)["spec"].(map[string]any)
	c := pod["containers"].([]any)[0].(map[string]any)
	checkServeArgs(t, "Deployment", strs(c["args"]))
	env := contractEnv()
	for _, e := range c["env"].([]any) {
		e := e.(map[string]any)
		name := e["name"].(string)
		if !slices.Contains(env, name) {
			t.Errorf("env %s is not a variable keyveil reads", name)
		}
		if vf, ok := e["valueFrom"].(map[string]any); ok {
			ref := vf["secretKeyRef"].(map[string]any)
			if _, ok := secretKeys[ref["key"].(string)]; !ok {
				t.Errorf("env %s refers to Secret key %v, which the Secret lacks", name, ref["key"])
			}
		}
	}
	probe, _ := c["readinessProbe"].(map[string]any)
	get, _ := probe["httpGet"].(map[string]any)
	if get["path"] != "/healthz" {
		t.Errorf("readinessProbe = %v, want httpGet /healthz", probe)
	}
	svcSpec := byKind["Service"]["spec"].(map[string]any)
	if svcSpec["selector"].(map[string]any)["app"] != "keyveil" {
		t.Errorf("Service selector %v does not select the Deployment", svcSpec["selector"])
	}
}
