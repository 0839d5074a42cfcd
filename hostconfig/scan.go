package hostconfig

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"

	"github.com/keyveil/keyveil/internal/boundedfile"
)

// maxFileBytes bounds what is read of one file. Claude Code's
// ~/.claude.json also keeps per-project history and grows to a few MiB; a
// larger file is reported as not scanned rather than read.
const maxFileBytes = 8 << 20

// minKeyLen and maxLen bound the values compared: keyveil refuses keys
// shorter than 8 bytes, and reads NAME_FILE keys of up to 64 KiB.
const (
	minKeyLen = 8
	maxLen    = 64 << 10
)

// Key is a loaded key as Scan needs it: its variable's name, the SHA-256
// digest of its value, and its length, so that only strings of a key's
// length are hashed (`keyveil check` shows the length anyway).
type Key struct {
	Name   string
	Digest [sha256.Size]byte
	Len    int
}

// Finding is one file that holds a loaded key in plain text, or could not
// be scanned.
type Finding struct {
	File File
	// Keys names the variables whose keys the file holds, in the order of
	// Scan's keys.
	Keys []string
	// Mode is the file's permission bits when group or others may read it
	// (not on Windows); 0 otherwise.
	Mode fs.FileMode
	// TooLarge is set when the file was not scanned: it is larger than
	// 8 MiB.
	TooLarge bool
}

// Message is the warning for f: which keys, which file, and the fix. It
// names variables and the path, never a value.
func (f Finding) Message() string {
	if f.TooLarge {
		return fmt.Sprintf("%s (%s) is larger than %d MiB and was not checked for keys in plain text", f.File.Path, f.File.Host, maxFileBytes>>20)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the value of %s is in plain text in %s (%s), where the model's file and shell tools, and any program running as you, can read it", strings.Join(f.Keys, ", "), f.File.Path, f.File.Host)
	if f.Mode != 0 {
		fmt.Fprintf(&b, "; the file is also readable by other users (mode %04o: chmod 600 it)", f.Mode)
	}
	// The fixes are written for MCP_API_KEY; name the key's own variable.
	b.WriteString(". Fix: " + strings.ReplaceAll(f.File.Fix, "MCP_API_KEY", f.Keys[0]))
	return b.String()
}

// Scan reads each of files that exists (bounded, regular files only) and
// returns a Finding for each that holds one of keys as a string value, or
// as a word of one. Files that do not exist or cannot be read are skipped
// silently: most hosts are not installed.
func Scan(files []File, keys []Key) []Finding {
	if len(keys) == 0 {
		return nil
	}
	var out []Finding
	for _, f := range files {
		fd, ok := scanFile(f, keys)
		if ok {
			out = append(out, fd)
		}
	}
	return out
}

// scanFile scans one file; ok is false when there is nothing to report.
func scanFile(f File, keys []Key) (Finding, bool) {
	// A FIFO planted where a config belongs would block start-up, and a
	// device would read for ever: boundedfile refuses both unread.
	data, fi, err := boundedfile.Read(f.Path, maxFileBytes)
	if errors.Is(err, boundedfile.ErrTooLarge) {
		return Finding{File: f, TooLarge: true}, true
	}
	if err != nil {
		return Finding{}, false
	}
	found := make([]int, len(keys))
	var lens [maxLen + 1]bool
	for _, k := range keys {
		if k.Len >= minKeyLen && k.Len <= maxLen {
			lens[k.Len] = true
		}
	}
	check := func(s []byte) {
		if len(s) > maxLen || !lens[len(s)] {
			return
		}
		d := sha256.Sum256(s)
		for i, k := range keys {
			found[i] |= subtle.ConstantTimeCompare(d[:], k.Digest[:])
		}
	}
	eachString(data, f.TOML, func(s []byte) {
		check(s)
		// Each word, when there is more than one.
		for start, i := 0, 0; i <= len(s); i++ {
			if i < len(s) && !isSeparator(s[i]) {
				continue
			}
			if i-start < len(s) {
				check(s[start:i])
			}
			start = i + 1
		}
	})
	fd := Finding{File: f}
	for i, k := range keys {
		if found[i] == 1 {
			fd.Keys = append(fd.Keys, k.Name)
		}
	}
	if len(fd.Keys) == 0 {
		return Finding{}, false
	}
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		fd.Mode = perm
	}
	return fd, true
}

// isSeparator splits a string value into the words a key may be one of:
// "Bearer KEY", "MCP_API_KEY=KEY", "Authorization: Bearer KEY".
func isSeparator(r byte) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '=', ':', ',', ';':
		return true
	}
	return false
}

// eachString calls fn with every string literal of data, unescaped: JSON
// strings (with // and /* */ comments skipped, as VS Code's JSONC allows),
// or TOML's basic, literal and multi-line strings (with # comments
// skipped). The file need not be valid; a malformed one yields what it
// yields. fn must not keep s.
func eachString(data []byte, toml bool, fn func(s []byte)) {
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case c == '#' && toml, c == '/' && !toml && i+1 < len(data) && data[i+1] == '/':
			for i < len(data) && data[i] != '\n' {
				i++
			}
		case c == '/' && !toml && i+1 < len(data) && data[i+1] == '*':
			end := bytes.Index(data[i+2:], []byte("*/"))
			if end < 0 {
				return
			}
			i += 2 + end + 1
		case c == '"' || (c == '\'' && toml):
			q := string(c)
			if toml && bytes.HasPrefix(data[i:], []byte(q+q+q)) {
				end := bytes.Index(data[i+3:], []byte(q+q+q))
				if end < 0 {
					return
				}
				// Up to two quotes may end the body right before the
				// delimiter: """say "hi"""""
				for n := 0; n < 2 && i+6+end < len(data) && data[i+6+end] == c; n++ {
					end++
				}
				body := data[i+3 : i+3+end]
				body = bytes.TrimPrefix(bytes.TrimPrefix(body, []byte("\r")), []byte("\n"))
				fn(unescape(body, c == '"'))
				i += 3 + end + 2
				continue
			}
			j := i + 1
			for j < len(data) && data[j] != c && data[j] != '\n' {
				if data[j] == '\\' && c == '"' {
					j++
				}
				j++
			}
			if j >= len(data) {
				return
			}
			fn(unescape(data[i+1:j], c == '"'))
			i = j
		}
	}
}

// unescape returns the value of a string literal's body: JSON's escapes
// (which TOML's basic strings share, \uXXXX included) when escaped is
// true and the body has a backslash; the body itself otherwise, and when
// it does not decode.
func unescape(body []byte, escaped bool) []byte {
	if !escaped || bytes.IndexByte(body, '\\') < 0 {
		return body
	}
	var s string
	if err := json.Unmarshal(append(append([]byte{'"'}, body...), '"'), &s); err != nil {
		return body
	}
	return []byte(s)
}
