package openapi

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/keyveil/keyveil/internal/yamljson"
)

// $ref resolution: a $ref within the document or to a local file, and the
// chain of $refs it may start.

// maxRefHops bounds a chain of $refs that each point at another $ref; a
// longer chain is taken for a loop.
const maxRefHops = 64

// follow resolves v when it is a $ref object (following $refs to $refs),
// and returns the value it stands for, the file that value is in (relative
// $refs inside it are read from there) and a key naming it ("" when v was
// no $ref). stop, when not nil, ends the chain at a $ref object it accepts.
// A $ref to a URL is refused: loading makes no network request.
func (l *loader) follow(file string, v any, stop func(any) bool) (string, any, string, error) {
	key := ""
	for hop := 0; ; hop++ {
		m, ok := v.(map[string]any)
		if !ok {
			return file, v, key, nil
		}
		rv, ok := m["$ref"]
		if !ok || hop > 0 && stop != nil && stop(v) {
			return file, v, key, nil
		}
		if hop == maxRefHops {
			return "", nil, "", fmt.Errorf("$ref %v: more than %d $refs in a row (a loop?)", rv, maxRefHops)
		}
		ref, ok := rv.(string)
		if !ok {
			return "", nil, "", errors.New("$ref must be a string")
		}
		f, target, k, err := l.lookup(file, ref)
		if err != nil {
			return "", nil, "", err
		}
		file, v, key = f, target, k
	}
}

// confine returns the file a $ref's location loc names, seen from file,
// with symlinks resolved; it must be below the document's directory. A
// vendor's document could otherwise name /etc/passwd, ../../.env or an
// absolute path, and the file's text would reach the tools' descriptions,
// which the model reads.
func (l *loader) confine(file, loc string) (string, error) {
	p := filepath.FromSlash(loc)
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(file), p)
	}
	real, err := filepath.EvalSymlinks(filepath.Clean(p))
	if err != nil {
		return "", fmt.Errorf("reading $ref file: %w", err)
	}
	rel, err := filepath.Rel(l.dir, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("the file is outside the document's directory %s; keyveil reads $ref files from below it only (copy the file next to the document)", l.dir)
	}
	return real, nil
}

// lookup returns the value ref points at from file.
func (l *loader) lookup(file, ref string) (string, any, string, error) {
	loc, frag, _ := strings.Cut(ref, "#")
	if strings.Contains(loc, "://") || strings.HasPrefix(loc, "//") {
		u, err := url.Parse(loc)
		if err != nil || u.Scheme != "file" || u.Host != "" {
			scheme, host := "", loc
			if err == nil {
				scheme, host = u.Scheme, u.Host
			}
			return "", nil, "", fmt.Errorf("$ref to %s://%s is not followed; keyveil reads local files only (download the document and refer to the file)", scheme, host)
		}
		loc = u.Path
	} else if p, err := url.PathUnescape(loc); err == nil {
		loc = p
	}
	target := file
	if loc != "" {
		var err error
		if target, err = l.confine(file, loc); err != nil {
			return "", nil, "", fmt.Errorf("$ref %s: %w", ref, err)
		}
	}
	root, ok := l.files[target]
	if !ok {
		data, err := yamljson.ReadFile(target, min(maxFileBytes, maxTotalBytes-l.read))
		if err != nil {
			return "", nil, "", fmt.Errorf("reading $ref file: %w", err)
		}
		l.read += int64(len(data))
		l.refs[target] = hashHex(data)
		if root, err = yamljson.Decode(filepath.Base(target), data); err != nil {
			return "", nil, "", fmt.Errorf("$ref file %s: %w", filepath.Base(target), err)
		}
		l.files[target] = root
	}
	if f, err := url.PathUnescape(frag); err == nil {
		frag = f
	}
	if frag == "" {
		return target, root, target + "#", nil
	}
	if !strings.HasPrefix(frag, "/") {
		return "", nil, "", fmt.Errorf("$ref %s: only JSON pointers (#/…) are supported", ref)
	}
	v := root
	for _, tok := range strings.Split(frag[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch x := v.(type) {
		case map[string]any:
			next, ok := x[tok]
			if !ok {
				return "", nil, "", fmt.Errorf("$ref %s: %q not found", ref, tok)
			}
			v = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return "", nil, "", fmt.Errorf("$ref %s: %q not found", ref, tok)
			}
			v = x[i]
		default:
			return "", nil, "", fmt.Errorf("$ref %s: %q not found", ref, tok)
		}
	}
	return target, v, target + "#" + frag, nil
}
