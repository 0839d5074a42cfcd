package openapi

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/keyveil/keyveil/config"
	"github.com/keyveil/keyveil/internal/yamljson"
)

// fanOut returns a small document whose schemas each refer to the next
// one width times, levels deep, under ops operations: written out, each
// request body is width^levels schemas.
func fanOut(levels, width, ops int) string {
	var b strings.Builder
	b.WriteString("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n")
	for i := range ops {
		fmt.Fprintf(&b, "  /op%d:\n    post:\n      operationId: op%d\n      requestBody:\n        content:\n          application/json:\n            schema: {$ref: '#/components/schemas/s0'}\n", i, i)
	}
	b.WriteString("components:\n  schemas:\n")
	for l := range levels {
		fmt.Fprintf(&b, "    s%d:\n      type: object\n      properties:\n", l)
		for w := range width {
			if l == levels-1 {
				fmt.Fprintf(&b, "        p%d: {type: string, description: a leaf with some words in it}\n", w)
			} else {
				fmt.Fprintf(&b, "        p%d: {$ref: '#/components/schemas/s%d'}\n", w, l+1)
			}
		}
	}
	return b.String()
}

// TestRefFanOut: a document of a few kilobytes whose $refs fan out gives
// no tool larger than the per-tool bound and no import larger than the
// per-document bound, and its import allocates a bounded amount of memory
// (checked by bytes allocated, not by time).
func TestRefFanOut(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"one.yaml":  fanOut(6, 10, 1),
		"many.yaml": fanOut(3, 30, 60),
		"fine.yaml": fanOut(2, 5, 3),
	})
	load := func(name string) *Document {
		t.Helper()
		doc, err := Load(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("Load(%s): %v", name, err)
		}
		return doc
	}
	if n := len(fanOut(6, 10, 1)); n > 4<<10 {
		t.Fatalf("one.yaml is %d bytes; the test wants a small document", n)
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tools, skipped, err := load("one.yaml").Tools(Options{Service: "api", Operations: []string{"*"}, Full: true})
	runtime.ReadMemStats(&after)
	if err != nil || len(tools) != 0 || len(skipped) != 1 || !skipped[0].Warn || !strings.Contains(skipped[0].Reason, "expands to more than 128 KiB") {
		t.Errorf("Tools(*) of one.yaml = %d tools, skipped %+v, %v; want op0 skipped with a warning", len(tools), skipped, err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 32<<20 {
		t.Errorf("Tools(*) of one.yaml allocated %d MiB, want under 32 MiB", got>>20)
	}

	if _, _, err := load("one.yaml").Tools(Options{Service: "api", Operations: []string{"op0"}, Full: true}); err == nil || !strings.Contains(err.Error(), "operation op0 cannot be a tool: its input schema expands") {
		t.Errorf("Tools(op0) of one.yaml error = %v, want op0 refused by name", err)
	}
	if _, _, err := load("many.yaml").Tools(Options{Service: "api", Operations: []string{"*"}, Full: true}); err == nil || !strings.Contains(err.Error(), "come to more than 1 MiB") {
		t.Errorf("Tools(*) of many.yaml error = %v, want the per-document bound", err)
	}
	if tools, skipped, err := load("fine.yaml").Tools(Options{Service: "api", Operations: []string{"*"}, Full: true}); err != nil || len(tools) != 3 || len(skipped) != 0 {
		t.Errorf("Tools(*) of fine.yaml = %d tools, %v, %v; want 3 tools", len(tools), skipped, err)
	}
}

// TestExpandWarnsFanOut: an operation left out for its size is a warning
// the operator sees (keyveil check lists cfg.Warnings), fresh and from
// the cache alike.
func TestExpandWarnsFanOut(t *testing.T) {
	for _, cached := range []bool{false, true} {
		dir := writeFiles(t, map[string]string{"one.yaml": fanOut(6, 10, 1)})
		cache := t.TempDir()
		var warns []string
		for range 2 { // the second run reads the cache
			_, w, hit, save, err := importTools(filepath.Join(dir, "one.yaml"), cache, Options{Service: "api", Operations: []string{"*"}, Full: true})
			if err != nil {
				t.Fatal(err)
			}
			save()
			if hit == cached {
				warns = w
			}
		}
		if len(warns) != 1 || !strings.Contains(warns[0], "operation op0 is left out") {
			t.Errorf("importTools (cached %v) warnings = %q, want op0 left out", cached, warns)
		}
	}
}

// TestRefFiles: a $ref reads only regular files of bounded size below the
// document's directory, symlinks resolved; the document itself must be a
// regular file too.
func TestRefFiles(t *testing.T) {
	t.Parallel()
	outside := writeFiles(t, map[string]string{"secret.yaml": "type: string\ndescription: the contents of another file\n"})
	dir := writeFiles(t, map[string]string{
		"sub/ok.yaml": "type: string\ndescription: fine\n",
		"big.json":    `{"type": "string", "description": "` + strings.Repeat("x", maxFileBytes) + `"}`,
	})
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(dir, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero")); err != nil {
		t.Fatal(err)
	}
	doc := func(ref string) string {
		return "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /x:\n    get:\n      operationId: x\n      parameters:\n        - name: q\n          in: query\n          schema: {$ref: '" + ref + "'}\n"
	}
	for _, tc := range []struct {
		name, ref string
		want      string // in the error; "" for success
	}{
		{"below the directory", "sub/ok.yaml", ""},
		{"dev zero", "/dev/zero", "outside the document's directory"},
		{"symlink to dev zero", "zero", "outside the document's directory"},
		{"fifo", "fifo", "not a regular file"},
		{"absolute path", filepath.Join(outside, "secret.yaml"), "outside the document's directory"},
		{"dot dot", "../" + filepath.Base(outside) + "/secret.yaml", "outside the document's directory"},
		{"symlink out", "link.yaml", "outside the document's directory"},
		{"file URL", "file://" + filepath.Join(outside, "secret.yaml"), "outside the document's directory"},
		{"too large", "big.json", "larger than 32 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
			if err := os.WriteFile(p, []byte(doc(tc.ref)), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(p)
			if tc.want == "" {
				if err != nil {
					t.Errorf("Load with $ref %s: %v", tc.ref, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load with $ref %s error = %v, want %q", tc.ref, err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "the contents of another file") {
				t.Errorf("Load with $ref %s error quotes the other file: %v", tc.ref, err)
			}
		})
	}
	for _, name := range []string{"fifo", "zero"} {
		if _, err := Load(filepath.Join(dir, name)); !errors.Is(err, yamljson.ErrNotRegular) {
			t.Errorf("Load(%s) error = %v, want ErrNotRegular", name, err)
		}
	}
}

// TestDocumentAliasBomb: a YAML alias bomb in a document is refused at
// its line, with what to do.
func TestDocumentAliasBomb(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("openapi: 3.0.3\ninfo: {title: t, version: '1'}\nx-lol:\n  a0: &a0 [lol]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "  a%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d,", i-1), 10), ","))
	}
	b.WriteString("paths: {}\n")
	dir := writeFiles(t, map[string]string{"bomb.yaml": b.String()})
	_, err := Load(filepath.Join(dir, "bomb.yaml"))
	if !errors.Is(err, yamljson.ErrTooLarge) || !strings.Contains(err.Error(), "bomb.yaml:9: ") || !strings.Contains(err.Error(), "write the repeated part out once") {
		t.Errorf("Load(bomb.yaml) error = %v, want ErrTooLarge at bomb.yaml:9", err)
	}
}

// TestExpandFanOutWarning: through Expand, an operation left out for its
// size reaches cfg.Warnings (which keyveil check lists and serve logs),
// naming the service, the document and the operation; the rest import.
func TestExpandFanOutWarning(t *testing.T) {
	t.Parallel()
	doc := fanOut(6, 10, 1) // op0: too large
	doc = strings.Replace(doc, "paths:\n", "paths:\n  /small:\n    get:\n      operationId: small\n", 1)
	dir := writeFiles(t, map[string]string{
		"api.yaml": doc,
		// schema: full, because a compact import stops at compactDepth
		// before the fan-out could grow.
		"keyveil.yaml": "services:\n  crm:\n    base_url: https://crm.example.com\n    auth: {type: none}\n    openapi: api.yaml\n    operations: [\"*\"]\n    schema: full\n",
	})
	cfg, err := config.Load(filepath.Join(dir, "keyveil.yaml"), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if err := Expand(cfg, &ExpandOptions{NoCache: true}); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Tools) != 1 || cfg.Tools[0].Name != "small" {
		t.Errorf("Expand tools = %v, want small only", cfg.Tools)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], `service "crm": api.yaml: operation op0 is left out: its input schema expands to more than 128 KiB`) {
		t.Errorf("cfg.Warnings = %q, want op0 left out", cfg.Warnings)
	}
}
