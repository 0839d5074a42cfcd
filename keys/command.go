package keys

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// EnvKeys names the environment variable that gives the registry file when
// --keys is not passed, to `keyveil keys` and `keyveil serve --http` alike.
const EnvKeys = "KEYVEIL_KEYS"

const commandUsage = `usage: keyveil keys COMMAND [flags]

Manage the API keys that remote agents present to keyveil serve --http.

Commands:
  create --name NAME [--scopes a,b] [--expires 90d] [--rate 60/min]
                     make a key and print it, once, alone on stdout
  list [--json]      show every key; never secrets
  revoke ID          refuse the key from now on
  rotate ID [--overlap 24h]
                     make a replacement key and print it; the old key keeps
                     working until the overlap ends (0: revoke it now)

Every command takes --keys FILE (default: $KEYVEIL_KEYS), the registry file.
A running server picks up changes within a second; no restart needed.
`

// Command runs `keyveil keys ...`; args are those after "keys". A new key
// goes to stdout alone on its line, so that `keyveil keys create ... >
// file` or `$(...)` captures just the key; everything meant for a person
// goes to stderr.
func Command(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, commandUsage)
		return errors.New("keys: missing command; one of create, list, revoke, rotate")
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("keyveil keys "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("keys", "", "registry `FILE` (default: $"+EnvKeys+")")
	var run func(r *Registry, pos []string) error
	create := false
	switch cmd {
	case "create":
		create = true
		name := fs.String("name", "", "a label for the key, like ci or alice-laptop (required)")
		scopes := fs.String("scopes", "", "comma-separated `scopes` the key is granted (default: the deployment's)")
		expires := fs.String("expires", "", "`lifetime`, like 90d, 2w or 12h (default: never)")
		rate := fs.String("rate", "", "request `rate`, like 60/min (default: the server's)")
		run = func(r *Registry, pos []string) error {
			if err := noArgs(pos); err != nil {
				return err
			}
			if *name == "" {
				return errors.New("keys create: --name is required")
			}
			var lifetime time.Duration
			if *expires != "" {
				var err error
				if lifetime, err = ParseLifetime(*expires); err != nil {
					return fmt.Errorf("keys create: --expires: %w", err)
				}
			}
			rt, err := ParseRate(*rate) // its errors name --rate already
			if err != nil {
				return fmt.Errorf("keys create: %w", err)
			}
			plaintext, k, err := r.Create(*name, splitList(*scopes), lifetime, rt)
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, plaintext)
			fmt.Fprintf(stderr, "Created key %s (%s): %s.\nThis is the only time the key is shown; store it now.\n", k.ID, k.Name, describe(k))
			return nil
		}
	case "list":
		asJSON := fs.Bool("json", false, "print JSON instead of a table")
		run = func(r *Registry, pos []string) error {
			if err := noArgs(pos); err != nil {
				return err
			}
			ks, err := r.List()
			if err != nil {
				return err
			}
			if *asJSON {
				if ks == nil {
					ks = []Key{}
				}
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(ks)
			}
			printTable(stdout, ks, time.Now())
			return nil
		}
	case "revoke":
		run = func(r *Registry, pos []string) error {
			id, err := oneID(pos)
			if err != nil {
				return err
			}
			if err := r.Revoke(id); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "Revoked key %s. A running server refuses it from its next check of the file (within a second).\n", id)
			return nil
		}
	case "rotate":
		overlap := fs.String("overlap", "24h", "how long the old key keeps working, like 24h or 7d; 0 revokes it now")
		run = func(r *Registry, pos []string) error {
			id, err := oneID(pos)
			if err != nil {
				return err
			}
			var d time.Duration
			if *overlap != "0" {
				if d, err = ParseLifetime(*overlap); err != nil {
					return fmt.Errorf("keys rotate: --overlap: %w", err)
				}
			}
			plaintext, k, err := r.Rotate(id, d)
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, plaintext)
			if d > 0 {
				fmt.Fprintf(stderr, "Rotated key %s to %s (%s). The old key works until %s at the latest.\n", id, k.ID, describe(k), k.Created.Add(d).Format(time.RFC3339))
			} else {
				fmt.Fprintf(stderr, "Rotated key %s to %s (%s). The old key is revoked.\n", id, k.ID, describe(k))
			}
			fmt.Fprintln(stderr, "This is the only time the new key is shown; store it now.")
			return nil
		}
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stderr, commandUsage)
		return nil
	default:
		fmt.Fprint(stderr, commandUsage)
		return fmt.Errorf("keys: unknown command %q", cmd)
	}
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("keys %s: %w", cmd, err)
	}
	if *path == "" {
		*path = os.Getenv(EnvKeys)
	}
	if *path == "" {
		return fmt.Errorf("keys %s: no key registry; pass --keys FILE or set %s", cmd, EnvKeys)
	}
	r, err := Open(*path, &Options{CreateMissing: create})
	if err != nil {
		return err
	}
	return run(r, pos)
}

// parseInterspersed lets flags follow positional arguments, as in
// `keys revoke ID --keys FILE`, which the flag package alone stops at.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func noArgs(pos []string) error {
	if len(pos) > 0 {
		if id, _, ok := split(pos[0]); ok {
			return fmt.Errorf("unexpected argument: a whole key (id %s)", id)
		}
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	return nil
}

// oneID returns the one positional argument, a key id. A whole key pasted
// in its place (the natural thing to do with a leaked one) is refused by
// its id alone: echoing it in "no key with this id" would print the secret
// to a terminal or a CI log, which the package promises never to do.
func oneID(pos []string) (string, error) {
	if len(pos) != 1 {
		return "", errors.New("want exactly one key id (see keys list)")
	}
	if id, _, ok := split(pos[0]); ok {
		return "", fmt.Errorf("want a key id, not a whole key; this key's id is %s", id)
	}
	return pos[0], nil
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// describe summarises a key's grants for the line printed after create and
// rotate.
func describe(k *Key) string {
	scopes := "the deployment's scopes"
	if len(k.Scopes) > 0 {
		scopes = "scopes " + strings.Join(k.Scopes, ",")
	}
	expires := "never expires"
	if !k.Expires.IsZero() {
		expires = "expires " + k.Expires.Format(time.RFC3339)
	}
	rate := "the server's rate limit"
	if !k.Rate.IsZero() {
		rate = "rate " + k.Rate.String()
	}
	return scopes + ", " + rate + ", " + expires
}

func printTable(w io.Writer, ks []Key, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSTATUS\tSCOPES\tRATE\tCREATED\tEXPIRES\tLAST USED")
	for _, k := range ks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.state(now),
			orDash(strings.Join(k.Scopes, ",")), orDash(k.Rate.String()),
			when(k.Created), when(k.Expires), when(k.LastUsed))
	}
	tw.Flush()
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
