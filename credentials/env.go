package credentials

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/joho/godotenv"

	"github.com/keyveil/keyveil/internal/boundedfile"
	"github.com/keyveil/keyveil/keychain"
)

// maxEnvFileBytes bounds a dotenv file. A real one is a few hundred bytes;
// the bound stops a mistaken --env-file pointed at a log from eating
// memory (a device or FIFO is refused before it is read).
const maxEnvFileBytes = 1 << 20

// maxEnvFileSearch bounds the work spent finding which line of a malformed
// dotenv file is at fault (quadratic in the worst case); beyond it the error
// just says "malformed".
const maxEnvFileSearch = 64 << 10

// maxEnvPiece is the longest multi-line value badLine allows for, well
// above a PEM-encoded RSA-4096 private key (about 3.3 KiB).
const maxEnvPiece = 16 << 10

// Source says where a credential's value came from, for `keyveil check`.
type Source string

// Where a value can come from. The real environment wins over a dotenv file.
const (
	SourceEnv      Source = "env"      // the process environment
	SourceFile     Source = "file"     // a file named by NAME_FILE
	SourceDotenv   Source = "dotenv"   // the --env-file / KEYVEIL_ENV_FILE file
	SourceKeychain Source = "keychain" // the OS keychain, named by keychain:NAME in the variable
	SourceNone     Source = "none"     // not set anywhere
)

// Env is keyveil's view of its environment: the process environment, and
// below it an optional dotenv file. Dotenv values stay inside Env and never
// enter the process environment, so a child process cannot inherit them.
//
// The process environment is read live, not snapshotted, so that once [Load]
// has unset a secret variable no later lookup can find it. A nil *Env is the
// process environment alone. Env is not safe for concurrent use with [Load].
type Env struct {
	path   string            // the dotenv file; "" when none
	dotenv map[string]string // its variables; nil when none
	// keychain resolves keychain:NAME references; nil: the OS keychain
	// ([keychain.Lookup]). Tests replace it.
	keychain func(name string) (string, keychain.Entry, error)
}

// ReadEnv returns the process environment with the dotenv file at
// dotenvPath beneath it (empty: no file). The file is parsed by godotenv, but
// its errors are replaced: godotenv quotes the text around a syntax error,
// and that text may be a key. A malformed file is reported by line number
// only.
func ReadEnv(dotenvPath string) (*Env, error) {
	if dotenvPath == "" {
		return &Env{}, nil
	}
	data, _, err := boundedfile.Read(dotenvPath, maxEnvFileBytes)
	var nr *boundedfile.NotRegularError
	switch {
	case errors.As(err, &nr):
		// A FIFO here would have hung start-up; a device read for ever.
		return nil, fmt.Errorf("reading env file %s: it is %s, not a regular file; --env-file and KEYVEIL_ENV_FILE name a dotenv file of KEY=VALUE lines", dotenvPath, boundedfile.Kind(nr.Mode))
	case errors.Is(err, boundedfile.ErrTooLarge):
		return nil, fmt.Errorf("reading env file %s: larger than %d bytes; is this the right file?", dotenvPath, maxEnvFileBytes)
	case err != nil:
		// *fs.PathError names the path and the reason, never contents.
		return nil, fmt.Errorf("reading env file: %w", err)
	}
	vars, err := godotenv.UnmarshalBytes(data)
	if err != nil {
		// Drop err: its text quotes the file.
		if n := badLine(data); n > 0 {
			return nil, fmt.Errorf("reading env file %s: line %d is not KEY=VALUE (or opens a quote that is never closed)", dotenvPath, n)
		}
		return nil, fmt.Errorf("reading env file %s: malformed (godotenv could not parse it); each line should be KEY=VALUE", dotenvPath)
	}
	return &Env{path: dotenvPath, dotenv: vars}, nil
}

// badLine returns the 1-based number of the line at which data stops being
// a valid dotenv file, or 0 when it cannot tell. godotenv's error does not
// say where, and its text cannot be shown, so badLine asks godotenv about
// pieces instead: it grows a piece line by line from the end of the last
// piece that parsed, and starts a new piece after each success. A piece
// that never parses, however far it grows, begins at the bad line. (A
// multi-line quoted value fails until its closing quote, then parses, so
// it is not blamed.) godotenv parses statement by statement, so a piece
// fails on its own exactly when it fails inside the file. A piece is not
// grown past maxEnvPiece bytes: godotenv's error quotes the whole piece, so
// each failed try costs its length.
func badLine(data []byte) int {
	if len(data) > maxEnvFileSearch {
		return 0
	}
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	start, startLine, line := 0, 1, 0
	for end := 0; end < len(data); {
		if i := bytes.IndexByte(data[end:], '\n'); i >= 0 {
			end += i + 1
		} else {
			end = len(data)
		}
		line++
		if _, err := godotenv.UnmarshalBytes(data[start:end]); err == nil {
			start, startLine = end, line+1
		} else if end-start > maxEnvPiece {
			break // no value is this long: the piece's first line is bad
		}
	}
	if start == len(data) {
		return 0
	}
	return startLine
}

// Lookup returns the value of the named variable: from the process
// environment when it is set there, otherwise from the dotenv file. It has
// the signature config.Load expects.
func (e *Env) Lookup(name string) (string, bool) {
	v, _, ok := e.lookupSource(name)
	return v, ok
}

// Source reports where the named variable would be read from: the process
// environment, the dotenv file, the OS keychain (when the value is a
// keychain:NAME reference), a file named by NAME_FILE (when NAME itself is
// not set), or nowhere.
func (e *Env) Source(name string) Source {
	if v, src, ok := e.lookupSource(name); ok {
		if strings.HasPrefix(v, keychain.Prefix) {
			return SourceKeychain
		}
		return src
	}
	if _, ok := e.Lookup(name + fileSuffix); ok {
		return SourceFile
	}
	return SourceNone
}

// lookupSource is Lookup that also says where the value came from.
func (e *Env) lookupSource(name string) (string, Source, bool) {
	if v, ok := os.LookupEnv(name); ok {
		return v, SourceEnv, true
	}
	if e != nil {
		if v, ok := e.dotenv[name]; ok {
			return v, SourceDotenv, true
		}
	}
	return "", SourceNone, false
}

// forget removes a secret variable from everywhere Env reads: the process
// environment and the dotenv map.
//
// Unsetting stops child processes from inheriting the key, and later
// os.Getenv calls (in this process or a library) from finding it. It cannot
// scrub /proc/self/environ: that shows the environment the process was
// started with, which Go copied at start-up and which unsetenv does not
// rewrite. Anyone who can read that file can read this process's memory.
func (e *Env) forget(name string) error {
	var err error
	if uerr := os.Unsetenv(name); uerr != nil {
		// The error carries the name only.
		err = fmt.Errorf("unsetting %s: %w", name, uerr)
	}
	if e != nil {
		delete(e.dotenv, name)
	}
	return err
}

// describe names where a variable came from, for error messages.
func (e *Env) describe(src Source) string {
	if src == SourceDotenv && e != nil {
		return " (from env file " + e.path + ")"
	}
	return ""
}
