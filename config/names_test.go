package config

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// TestNameRules checks each hand-written name rule against the regular
// expression it replaces, on edge cases and on random strings built from
// bytes at every class boundary.
func TestNameRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fn   func(string) bool
		re   *regexp.Regexp
	}{
		{"isServiceName", isServiceName, regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)},
		{"isEnvName", isEnvName, regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)},
		{"isParamName", isParamName, regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)},
		{"isToolName", isToolName, regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)},
		{"isScopeName", isScopeName, regexp.MustCompile(`^[!-~]{1,128}$`)},
	}
	// Bytes on each side of every class edge, plus multi-byte UTF-8 and an
	// invalid byte.
	alphabet := []string{"a", "z", "A", "Z", "0", "9", "_", "-", ".", "!", "~", " ", "\n", "`", "{", "@", "[", "/", ":", "\x7f", "é", "\xff", ","}
	var inputs []string
	for _, n := range []int{0, 1, 2, 31, 32, 33, 63, 64, 65, 127, 128, 129} {
		inputs = append(inputs, strings.Repeat("a", n), strings.Repeat("A", n), strings.Repeat("~", n))
	}
	for _, c := range alphabet {
		inputs = append(inputs, c, c+"a", "a"+c, "A"+c+"_")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		for range rng.IntN(70) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		inputs = append(inputs, b.String())
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, in := range inputs {
				if got, want := tc.fn(in), tc.re.MatchString(in); got != want {
					t.Errorf("%s(%q) = %v, want %v (as %s)", tc.name, in, got, want, tc.re)
				}
			}
		})
	}
}
