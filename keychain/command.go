package keychain

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"
)

const commandUsage = `usage: keyveil secrets COMMAND

Keep API keys in the OS keychain (macOS Keychain, Windows Credential
Manager, the Secret Service on Linux), so that your MCP host's config holds
only a reference: MCP_API_KEY=keychain:NAME.

Commands:
  set NAME --origin URL   store a key, typed at a hidden prompt or piped on
                          stdin (never on the command line); keyveil sends
                          it to URL's origin and nowhere else
  list                    names, origins and created times; never values
  delete NAME             remove a key

No command prints a key.
`

// Command runs `keyveil secrets ...`; args are those after "secrets". The
// value `set` stores comes from a hidden prompt when stdin is a terminal,
// otherwise from stdin (one trailing newline trimmed), never from args, so
// that it stays out of shell history and ps. check returns what is wrong
// with a value, completing a sentence that begins "the value", or "" when
// nothing is: the same rules keyveil applies to a key in its environment.
func Command(args []string, stdin io.Reader, stdout, stderr io.Writer, check func(string) string) error {
	return defaultStore.command(args, stdin, stdout, stderr, check)
}

func (s *store) command(args []string, stdin io.Reader, stdout, stderr io.Writer, check func(string) string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, commandUsage)
		if len(args) == 0 {
			return errors.New("secrets: missing command; one of set, list, delete")
		}
		return nil
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("keyveil secrets "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var origin *string
	if cmd == "set" {
		origin = fs.String("origin", "", "the only `URL` (scheme://host[:port]) the key may be sent to (required)")
	}
	// NAME may come before the flags (set crm --origin ...), which the
	// flag package alone would not parse.
	var pos []string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		pos, args = args[:1], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("secrets %s: %w", cmd, err)
	}
	pos = append(pos, fs.Args()...)
	switch cmd {
	case "set":
		if len(pos) != 1 {
			// Never echo pos: a second word is likely the key itself.
			return errors.New("secrets set: give one NAME; the key is read from a hidden prompt or stdin, never from the command line")
		}
		return s.setCommand(pos[0], *origin, stdin, stdout, stderr, check)
	case "list":
		if len(pos) != 0 {
			return errors.New("secrets list: takes no arguments")
		}
		return s.listCommand(stdout)
	case "delete":
		if len(pos) != 1 {
			return errors.New("secrets delete: give one NAME")
		}
		if err := s.remove(pos[0]); err != nil {
			return fmt.Errorf("secrets delete %s: %w", quoteName(pos[0]), err)
		}
		fmt.Fprintf(stdout, "deleted %s from the OS keychain\n", pos[0])
		return nil
	}
	fmt.Fprint(stderr, commandUsage)
	return fmt.Errorf("secrets: unknown command %s; one of set, list, delete", quoteName(cmd))
}

func (s *store) setCommand(name, rawOrigin string, stdin io.Reader, stdout, stderr io.Writer, check func(string) string) error {
	if err := CheckName(name); err != nil {
		return fmt.Errorf("secrets set: %w", err)
	}
	if rawOrigin == "" {
		return fmt.Errorf("secrets set: --origin is required: the URL of the API the key belongs to, like keyveil secrets set %s --origin https://api.example.com", name)
	}
	origin, err := Origin(rawOrigin)
	if err != nil {
		return fmt.Errorf("secrets set: --origin: %w", err)
	}
	value, err := readValue(name, stdin, stderr)
	if err != nil {
		return fmt.Errorf("secrets set: %w", err)
	}
	if strings.HasPrefix(value, Prefix) {
		return errors.New("secrets set: the value is a keychain: reference, not a key; type or pipe the key itself")
	}
	if problem := check(value); problem != "" {
		return fmt.Errorf("secrets set: the value %s", problem)
	}
	replaced, err := s.set(name, value, origin)
	if err != nil {
		return fmt.Errorf("secrets set %s: %w", name, err)
	}
	verb := "stored"
	if replaced {
		verb = "replaced"
	}
	fmt.Fprintf(stdout, "%s %s in the OS keychain, bound to %s; refer to it as %s%s (for example MCP_API_KEY=%s%s)\n", verb, name, origin, Prefix, name, Prefix, name)
	return nil
}

// readValue reads the key: at a hidden prompt on a terminal, else all of
// stdin less one trailing newline. It reads at most a few bytes beyond
// MaxValueBytes, so a mistaken pipe cannot fill memory.
func readValue(name string, stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(stderr, "Key for %s (input hidden): ", name)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("reading the key from the terminal: %w", err)
		}
		return string(b), nil
	}
	b, err := io.ReadAll(io.LimitReader(stdin, MaxValueBytes+3))
	if err != nil {
		return "", fmt.Errorf("reading the key from stdin: %w", err)
	}
	if len(b) > MaxValueBytes+2 {
		return "", fmt.Errorf("stdin holds more than %d bytes, longer than a key the OS keychain can hold; put the key in a file and name it with NAME_FILE instead", MaxValueBytes)
	}
	v := string(b)
	if t, ok := strings.CutSuffix(v, "\r\n"); ok {
		return t, nil
	}
	return strings.TrimSuffix(v, "\n"), nil
}

func (s *store) listCommand(stdout io.Writer) error {
	entries, problems, err := s.list()
	if err != nil {
		return fmt.Errorf("secrets list: %w", err)
	}
	if len(entries) == 0 {
		fmt.Fprintln(stdout, "no secrets stored; add one with keyveil secrets set NAME --origin URL")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "NAME\tORIGIN\tCREATED\n")
	for _, e := range entries {
		if p := problems[e.Name]; p != nil {
			fmt.Fprintf(tw, "%s\t-\t(%s)\n", e.Name, listProblem(p))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Name, e.Origin, e.Created.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

// listProblem is a short note for a name the index lists but whose item
// cannot be used.
func listProblem(err error) string {
	if errors.Is(err, ErrNotFound) {
		return "missing: set it again"
	}
	return err.Error()
}

// quoteName quotes a user-typed name for an error, unless it is too long to
// be one: then it may be a key typed in the wrong place, and is not shown.
func quoteName(s string) string {
	if len(s) > 64 {
		return "(a long argument, not shown)"
	}
	return fmt.Sprintf("%q", s)
}
