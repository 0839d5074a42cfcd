package keys

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// fileVersion is the registry format this package reads and writes.
const fileVersion = 1

// maxFileBytes bounds what a reload reads: a registry is a few hundred bytes
// per key, so anything near this is not one.
const maxFileBytes = 16 << 20

// fileData is the registry file.
type fileData struct {
	Version int      `json:"version"`
	Keys    []record `json:"keys"`
}

// record is one key as stored: its public description and the hex SHA-256
// of its secret.
type record struct {
	Key
	SHA256 string `json:"sha256"`
}

// readFile reads and checks the registry at path. The permission check runs
// on the open file, so a chmod between check and read cannot slip past it.
func readFile(path string) (*fileData, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("reading key registry %s: %w", path, err)
	}
	if err := checkMode(path, fi); err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading key registry %s: %w", path, err)
	}
	if len(b) > maxFileBytes {
		return nil, nil, fmt.Errorf("key registry %s is larger than %d bytes", path, maxFileBytes)
	}
	d, err := decode(b)
	if err != nil {
		return nil, nil, fmt.Errorf("key registry %s: %w", path, err)
	}
	return d, fi, nil
}

// checkMode refuses a registry that other users can read or write. The file
// holds only hashes, but its ids, scopes and names are nobody else's
// business, and a writable registry lets anyone mint a key.
func checkMode(path string, fi os.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("key registry %s is not a regular file", path)
	}
	if runtime.GOOS == "windows" {
		return nil // mode bits mean nothing there; the ACL is the operator's
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("key registry %s has mode %04o, which lets other users read it; run: chmod 600 %s", path, perm, path)
	}
	return nil
}

// decode parses a registry strictly: an unknown field is more likely a typo
// in a hand edit ("stauts": "revoked") than something safe to ignore.
func decode(b []byte) (*fileData, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var d fileData
	if err := dec.Decode(&d); err != nil {
		// json errors quote field names and offsets, never values.
		return nil, fmt.Errorf("parsing JSON: %w", err)
	}
	if d.Version != fileVersion {
		return nil, fmt.Errorf("version is %d; this keyveil reads version %d", d.Version, fileVersion)
	}
	seen := make(map[string]bool, len(d.Keys))
	for i, r := range d.Keys {
		if len(r.ID) != idLen || !inAlphabet(r.ID) {
			return nil, fmt.Errorf("key %d: id %q is not %d base32 characters", i, r.ID, idLen)
		}
		if seen[r.ID] {
			return nil, fmt.Errorf("key %s appears twice", r.ID)
		}
		seen[r.ID] = true
		if h, err := hex.DecodeString(r.SHA256); err != nil || len(h) != 32 {
			return nil, fmt.Errorf("key %s: sha256 is not 64 hex digits", r.ID)
		}
		if r.Status != StatusActive && r.Status != StatusRevoked {
			return nil, fmt.Errorf("key %s: status %q is neither %q nor %q", r.ID, r.Status, StatusActive, StatusRevoked)
		}
		if _, err := normalizeScopes(r.Scopes); err != nil {
			return nil, fmt.Errorf("key %s: %w", r.ID, err)
		}
	}
	return &d, nil
}

// writeFile replaces the registry atomically: a reader — this process, a
// running server, an editor — sees the old file or the new one, never half
// of either. The file is created 0600 and stays so.
func writeFile(path string, d *fileData) (os.FileInfo, error) {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding key registry: %w", err)
	}
	b = append(b, '\n')
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("writing key registry: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("writing key registry: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		return nil, fmt.Errorf("writing key registry: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("writing key registry: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("writing key registry: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, fmt.Errorf("writing key registry: %w", err)
	}
	done = true
	syncDir(dir)
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("writing key registry: %w", err)
	}
	return fi, nil
}

// syncDir makes a rename durable. Best effort: some systems cannot fsync a
// directory, and the rename itself has already happened.
func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		_ = f.Sync()
		f.Close()
	}
}

// isNotExist reports whether err says the registry file is missing.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
