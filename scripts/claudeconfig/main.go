// The claudeconfig command adds or replaces one MCP server entry in Claude
// Desktop's claude_desktop_config.json, leaving every other server and
// top-level key as it was. scripts/install-claude-desktop.sh runs it after
// `keyveil check` has passed; it is not meant to be run by hand.
//
// Usage:
//
//	MCP_API_KEY=... go run ./scripts/claudeconfig --config PATH --name NAME \
//	    --command /abs/keyveil --env MCP_API_BASE_URL=https://... --env MCP_API_KEY
//	go run ./scripts/claudeconfig --config PATH --name NAME \
//	    --command /abs/keyveil --op-env-file FILE [--op-command /abs/op]
//
// A key never travels on the command line, where shell history and ps would
// keep it: `--env NAME` without `=` copies NAME's value from this program's
// environment, and NAME=VALUE is refused for names that look like secrets
// (…_KEY, …_TOKEN, …_SECRET, …_PASSWORD). With --op-env-file the entry runs
// `op run --env-file=FILE -- keyveil` and holds no secret at all.
//
// The file is written atomically (temp file + rename) with mode 0600, since
// it may now hold a key; the previous version is kept as PATH.bak, also 0600.
//
// Unlike keyveil itself, this is a program for people: it prints to stdout.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// redacted is printed in place of every value taken from the environment.
const redacted = "[REDACTED]"

func main() {
	if err := run(os.Args[1:], os.LookupEnv, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "claudeconfig: %v\n", err)
		os.Exit(1)
	}
}

// server is one entry of mcpServers, in the shape Claude Desktop reads.
type server struct {
	Command string            `json:"command"`
	Args    []string          `json:"args,omitempty"`
	Env     map[string]string `json:"env"`
}

// member is one name/value pair of a JSON object, kept in file order with
// its value's bytes untouched, so entries we do not own survive a rewrite.
type member struct {
	name  string
	value json.RawMessage
}

// envFlag collects repeated --env arguments.
type envFlag []string

func (e *envFlag) String() string     { return strings.Join(*e, ",") }
func (e *envFlag) Set(v string) error { *e = append(*e, v); return nil }

var (
	envName    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	secretName = regexp.MustCompile(`(?i)(KEY|TOKEN|SECRET|PASSWORD|PASSWD)$`)
)

// run parses args, updates the config file and reports what it wrote to
// stdout. lookupEnv is os.LookupEnv outside tests.
func run(args []string, lookupEnv func(string) (string, bool), stdout io.Writer) error {
	fset := flag.NewFlagSet("claudeconfig", flag.ContinueOnError)
	fset.SetOutput(io.Discard)
	var (
		path      = fset.String("config", "", "claude_desktop_config.json to update (created if missing)")
		name      = fset.String("name", "", "the server entry to add or replace")
		command   = fset.String("command", "", "absolute path of the keyveil binary")
		opEnvFile = fset.String("op-env-file", "", "run keyveil under `op run --env-file=FILE`")
		opCommand = fset.String("op-command", "op", "the 1Password CLI, best as an absolute path")
		envs      envFlag
	)
	fset.Var(&envs, "env", "NAME=VALUE, or NAME to copy its value from the environment (repeatable)")
	if err := fset.Parse(args); err != nil {
		return err
	}
	switch {
	case fset.NArg() > 0:
		return fmt.Errorf("unexpected argument %q; every setting is a flag", fset.Arg(0))
	case *path == "":
		return errors.New("--config is required")
	case *name == "":
		return errors.New("--name is required")
	case !filepath.IsAbs(*command):
		return errors.New("--command must be an absolute path: Claude Desktop does not start servers from this directory")
	}

	entry := server{Command: *command, Env: map[string]string{}}
	secret := map[string]bool{}
	for _, e := range envs {
		k, v, literal := strings.Cut(e, "=")
		if !envName.MatchString(k) {
			return fmt.Errorf("--env %s: not a variable name", k)
		}
		if literal && secretName.MatchString(k) {
			return fmt.Errorf("--env %s=...: a secret on the command line lands in shell history and ps; export %s and pass --env %s", k, k, k)
		}
		if !literal {
			if *opEnvFile != "" {
				return fmt.Errorf("--env %s: with --op-env-file the secrets come from 1Password; put %s=op://... in the env file instead", k, k)
			}
			var ok bool
			if v, ok = lookupEnv(k); !ok || v == "" {
				return fmt.Errorf("--env %s: %s is not set in the environment", k, k)
			}
			secret[k] = true
		}
		entry.Env[k] = v
	}
	if *opEnvFile != "" {
		abs, err := filepath.Abs(*opEnvFile)
		if err != nil {
			return fmt.Errorf("--op-env-file: %w", err)
		}
		entry.Args = []string{"run", "--env-file=" + abs, "--", entry.Command}
		entry.Command = *opCommand
	}

	target := *path
	if resolved, err := filepath.EvalSymlinks(target); err == nil {
		target = resolved // keep a symlinked config (dotfiles) a symlink
	}
	old, err := os.ReadFile(target)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading %s: %w", target, err)
	}
	existed := err == nil
	updated, replaced, err := setServer(old, *name, entry)
	if err != nil {
		return fmt.Errorf("%s: %w; the file was left as it is", target, err)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return fmt.Errorf("creating the config directory: %w", err)
	}
	backup := ""
	if existed {
		backup = target + ".bak"
		if err := writeAtomic(backup, old); err != nil {
			return fmt.Errorf("backing up %s: %w", target, err)
		}
	}
	if err := writeAtomic(target, updated); err != nil {
		return fmt.Errorf("writing %s: %w", target, err)
	}

	verb := "added"
	if replaced {
		verb = "replaced"
	}
	fmt.Fprintf(stdout, "%s mcpServers[%q] in %s (mode 0600)\n", verb, *name, target)
	if backup != "" {
		fmt.Fprintf(stdout, "previous version saved as %s\n", backup)
	}
	shown := entry
	shown.Env = map[string]string{}
	for k, v := range entry.Env {
		if secret[k] {
			v = redacted
		}
		shown.Env[k] = v
	}
	text, err := encode(shown)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%q: %s\n", *name, text)
	return nil
}

// setServer returns config with mcpServers[name] set to entry, and whether
// an entry of that name was there before. Every other member, at both
// levels, keeps its place and its bytes (re-indented). A missing or blank
// config counts as {}; anything else that is not a JSON object is an error.
func setServer(config []byte, name string, entry server) (out []byte, replaced bool, err error) {
	var top []member
	if len(bytes.TrimSpace(config)) > 0 {
		if top, err = parseObject(config); err != nil {
			return nil, false, err
		}
	}
	value, err := encode(entry)
	if err != nil {
		return nil, false, err
	}
	var servers []member
	i := index(top, "mcpServers")
	if i >= 0 {
		if servers, err = parseObject(top[i].value); err != nil {
			return nil, false, fmt.Errorf("mcpServers: %w", err)
		}
	}
	replaced = index(servers, name) >= 0
	servers = set(servers, name, value)
	top = set(top, "mcpServers", joinObject(servers))

	var buf bytes.Buffer
	if err := json.Indent(&buf, joinObject(top), "", "  "); err != nil {
		return nil, false, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), replaced, nil
}

// parseObject splits a JSON object into its members, in order.
func parseObject(data []byte) ([]member, error) {
	if !json.Valid(data) {
		return nil, errors.New("not valid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, _ := dec.Token(); tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var ms []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var m member
		m.name, _ = tok.(string)
		if err := dec.Decode(&m.value); err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// joinObject is the inverse of parseObject.
func joinObject(ms []member) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.name)
		b.Write(k)
		b.WriteByte(':')
		b.Write(m.value)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// index returns the position of the first member called name, or -1.
func index(ms []member, name string) int {
	for i, m := range ms {
		if m.name == name {
			return i
		}
	}
	return -1
}

// set replaces the first member called name in place, dropping any later
// duplicates (a JSON reader would let the last one win), or appends it.
func set(ms []member, name string, value json.RawMessage) []member {
	i := index(ms, name)
	if i < 0 {
		return append(ms, member{name, value})
	}
	out := append(ms[:i:i], member{name, value})
	for _, m := range ms[i+1:] {
		if m.name != name {
			out = append(out, m)
		}
	}
	return out
}

// encode marshals v without escaping <, > and &, which may appear in paths
// and allow rules and would be harder to read as \u003c.
func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// writeAtomic replaces path with data so that a reader sees the old file or
// the new one, never half of one. The file is created with mode 0600
// whatever mode an earlier version had: it may hold a key.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
