package credentials

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"math/bits"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// anyMarker matches a redaction marker, whatever its name.
var anyMarker = regexp.MustCompile(`\[REDACTED:[A-Z_]+\]`)

// groupSizes returns how many secrets each group of r holds, in order.
func groupSizes(r *Redactor) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n []int
	for _, g := range r.groups {
		n = append(n, len(g.secrets))
	}
	return n
}

// TestRedactorGroupsReuse checks that Add and Forget rebuild only the
// groups they touch: a token arriving next to a big key leaves the key's
// group (and its fragment index, once built) as it was.
func TestRedactorGroupsReuse(t *testing.T) {
	t.Parallel()
	big := NewSecret("CLIENT_KEY", strings.Repeat("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ", 40))
	api := NewSecret("API_KEY", "sk-test-0123456789abcdefghij")
	tok := func(i int) Secret { return NewSecret("ACCESS_TOKEN", fmt.Sprintf("ya29.%035d", i)) }
	for _, tc := range []struct {
		name   string
		start  []Secret
		steps  func(r *Redactor)
		groups []int // secrets per group afterwards
		kept   bool  // the first group is the one built at the start
	}{
		{"token next to a big key", []Secret{api, big}, func(r *Redactor) { r.Add(tok(1)) }, []int{2, 1}, true},
		{"token rotated", []Secret{api, big}, func(r *Redactor) {
			r.Add(tok(1))
			r.Add(tok(2))
			r.Forget(tok(1))
		}, []int{2, 1}, true},
		{"tokens pile up in one group", []Secret{api, big}, func(r *Redactor) {
			for i := range 5 {
				r.Add(tok(i))
			}
		}, []int{2, 5}, true},
		{"last token forgotten", []Secret{api, big}, func(r *Redactor) {
			r.Add(tok(1))
			r.Forget(tok(1))
		}, []int{2}, true},
		{"small keys merge", []Secret{api}, func(r *Redactor) { r.Add(tok(1)) }, []int{2}, false},
		{"a big key after small ones merges them", []Secret{api}, func(r *Redactor) { r.Add(big) }, []int{2}, false},
		{"forgetting in the big group rebuilds it", []Secret{api, big}, func(r *Redactor) {
			r.Add(tok(1))
			r.Forget(api)
		}, []int{1, 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRedactor(tc.start...)
			first := r.current().groups[0]
			fx := first.fragments()
			tc.steps(r)
			if got := groupSizes(r); !slices.Equal(got, tc.groups) {
				t.Errorf("secrets per group = %v, want %v", got, tc.groups)
			}
			st := r.current()
			if kept := st.groups[0] == first; kept != tc.kept {
				t.Errorf("first group kept = %v, want %v", kept, tc.kept)
			}
			if tc.kept && st.fragments().fx[0] != fx {
				t.Error("the kept group's fragment index was built again")
			}
		})
	}
}

// TestRedactorGroupsSameAsOne checks that a Redactor taught its secrets
// over several Adds and Forgets, and so holding several groups, redacts
// exactly as one built with the same secrets at once: same output from
// Redact, RedactString, RedactFragments and Cut, same Lookahead, and the
// same names on markers where secrets overlap.
func TestRedactorGroupsSameAsOne(t *testing.T) {
	t.Parallel()
	big := NewSecret("CLIENT_KEY", strings.Repeat("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ", 40))
	line := NewSecret("CLIENT_KEY", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQMIIEvQIBADANBgk")
	api := NewSecret("API_KEY", "sk-test-0123456789abcdefghij")
	tok1 := NewSecret("ACCESS_TOKEN", "ya29.a0AfH6SMBx1234567890abcdefghijklmnop")
	tok2 := NewSecret("ACCESS_TOKEN", "ya29.a0AfH6SMBxqrstuvwxyzABCDEFGHIJ0987654")
	// Same value as part of big under another name: the first added names it.
	dup := NewSecret("OTHER", "EFAASCBKcwggSjAgEAAoIBAQMIIEvQIBADANBgkqhkiG9w0BAQ")
	texts := func(ss []Secret) []string {
		var out []string
		for _, s := range ss {
			v := s.Reveal()
			out = append(out,
				"x "+v+" y",
				`{"a":"`+v[:len(v)/2]+`","b":"`+v[len(v)/2:]+`"}`,
				"cut "+v[3:15]+" and "+v[len(v)-9:],
				"%"+strings.Join(strings.Split(v[:12], ""), "%"),
			)
			for _, vr := range variantsOf(v) {
				out = append(out, "<"+vr.text+">")
			}
		}
		out = append(out, api.Reveal()+tok1.Reveal()+tok2.Reveal(), "nothing here at all")
		return out
	}
	all := []Secret{api, big, line, tok1, tok2, dup}
	for _, tc := range []struct {
		name  string
		steps func(r *Redactor)
		want  []Secret // what a Redactor built at once holds, in order
	}{
		{"token next to a key", func(r *Redactor) {
			r.Add(api, big)
			r.Add(tok1)
		}, []Secret{api, big, tok1}},
		{"token rotated", func(r *Redactor) {
			r.Add(api, big)
			r.Add(tok1)
			r.Add(tok2)
			r.Forget(tok1)
		}, []Secret{api, big, tok2}},
		{"one at a time", func(r *Redactor) {
			for _, s := range []Secret{api, line, big, dup, tok1} {
				r.Add(s)
			}
		}, []Secret{api, line, big, dup, tok1}},
		{"duplicate name after a token", func(r *Redactor) {
			r.Add(big)
			r.Add(tok1)
			r.Add(dup, line)
		}, []Secret{big, tok1, dup, line}},
		{"forget in the middle", func(r *Redactor) {
			r.Add(api, big)
			r.Add(tok1)
			r.Add(line)
			r.Forget(big)
		}, []Secret{api, tok1, line}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Redactor{}
			tc.steps(r)
			one := NewRedactor(tc.want...)
			if got, want := r.Lookahead(), one.Lookahead(); got != want {
				t.Errorf("Lookahead = %d, want %d", got, want)
			}
			sent := [][]byte{[]byte(api.Reveal()[3:15])}
			for _, text := range texts(all) {
				p := []byte(text)
				if got, want := r.Redact(p), one.Redact(p); !bytes.Equal(got, want) {
					t.Errorf("Redact(%.40q…) = %.80q, want %.80q", text, got, want)
				}
				if got, want := r.RedactString(text), one.RedactString(text); got != want {
					t.Errorf("RedactString(%.40q…) = %.80q, want %.80q", text, got, want)
				}
				// A fragment run is named after the first window found in
				// it, which of several secrets holding it is not fixed;
				// what it covers is.
				got := anyMarker.ReplaceAll(r.RedactFragments(p, sent), []byte(markerPrefix+"]"))
				want := anyMarker.ReplaceAll(one.RedactFragments(p, sent), []byte(markerPrefix+"]"))
				if !bytes.Equal(got, want) {
					t.Errorf("RedactFragments(%.40q…) = %.80q, want %.80q", text, got, want)
				}
				for n := 0; n < len(p); n += 7 {
					if got, want := r.Cut(p, n, sent), one.Cut(p, n, sent); got != want {
						t.Errorf("Cut(%.40q…, %d) = %d, want %d", text, n, got, want)
					}
				}
			}
		})
	}
}

// TestFragmentIndexContained checks that every window of every pattern
// left out of the fragment index as contained in another is still found:
// each 8-byte window of it, planted alone between bytes that continue no
// secret, is covered by a run of the fragment pass, and RedactFragments
// leaves none of it.
func TestFragmentIndexContained(t *testing.T) {
	t.Parallel()
	ecdsaKey := func() []Secret {
		k, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return keyForms("EC_KEY", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})))
	}
	for _, tc := range []struct {
		name    string
		secrets []Secret
	}{
		{"rsa-2048 client key", benchRSAKey()},
		{"ecdsa client key", ecdsaKey()},
		{"piece of a longer key, non-ASCII", []Secret{
			NewSecret("LONG", "prefix-é-sk-test-0123456789abcdef-ü-suffix"),
			NewSecret("PART", "sk-test-0123456789abcdef-ü"),
		}},
		{"piece of invalid UTF-8", []Secret{
			NewSecret("PART", "\xff\xfe-0123456789abcdef"),
			NewSecret("LONG", "head-\xff\xfe-0123456789abcdef-tail"),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRedactor(tc.secrets...)
			st := r.current()
			fs := st.fragments()
			dropped := 0
			for _, m := range st.m.ms {
				for pi, p := range m.pats {
					if !m.contained[pi] {
						continue
					}
					dropped++
					v := m.data[p.off : p.off+p.n]
					for w := 0; w+fragLen <= len(v); w++ {
						win := string(v[w : w+fragLen])
						text := []byte("«" + win + "»")
						covered := false
						for _, run := range fs.find(text, nil) {
							covered = covered || run.start <= len("«") && run.end >= len("«")+fragLen
						}
						if !covered {
							t.Fatalf("window %q of a contained pattern is not found by the fragment pass", win)
						}
						if out := string(r.RedactFragments(text, nil)); strings.Contains(strings.ToLower(out), win) {
							t.Fatalf("RedactFragments(%q) = %q, window left", text, out)
						}
					}
				}
			}
			if dropped == 0 {
				t.Fatal("no pattern was left out of the fragment index: the test checks nothing")
			}
		})
	}
}

// TestFragmentIndexSize checks that the window table is sized for the
// distinct windows (a key's forms share most of theirs), and that a table
// made too small for them is noticed and made again.
func TestFragmentIndexSize(t *testing.T) {
	t.Parallel()
	r := NewRedactor(benchRSAKey()...)
	m := r.current().groups[0].m
	fx := m.fragments()
	exact, windows := map[uint64]bool{}, 0
	for pi, p := range m.pats {
		if m.contained[pi] {
			continue
		}
		for off := 0; off+fragLen <= int(p.n); off++ {
			exact[binary.LittleEndian.Uint64(m.data[int(p.off)+off:])] = true
			windows++
		}
	}
	used := 0
	for _, sl := range fx.slots {
		if sl.pat != 0 {
			used++
		}
	}
	for _, c := range []struct {
		what string
		ok   bool
	}{
		{"holds each distinct window once", used == len(exact)},
		{"is at most half full", 2*used <= len(fx.slots)},
		{"is not sized for every window", len(fx.slots) < 1<<bits.Len(uint(2*windows))},
	} {
		if !c.ok {
			t.Errorf("the table of %d slots for %d windows, %d distinct, %d used: not true that it %s",
				len(fx.slots), windows, len(exact), used, c.what)
		}
	}
	small := &fragIndex{data: m.data, pats: m.pats}
	if small.fill(m, len(exact)/4) {
		t.Errorf("fill for a quarter of %d distinct windows reported success", len(exact))
	}
}

// FuzzRedactorGroups checks that a Redactor holding a big secret and a
// token learnt after it, in two groups, redacts any text as one that
// learnt both at once: the same Redact, the same bytes redacted by
// RedactFragments, the same Cut.
func FuzzRedactorGroups(f *testing.F) {
	f.Add([]byte("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"), []byte("ya29.a0AfH6SMBx1234567890"), []byte(`{"echo":"x"}`), uint8(0), uint8(3), uint8(20), uint16(5))
	f.Add([]byte("abcdefghijkl"), []byte("abcdefg hijkl"), []byte("QUJD\r\n"), uint8(2), uint8(1), uint8(9), uint16(0))
	f.Fuzz(func(t *testing.T, seed, tok, text []byte, variant, from, n uint8, at uint16) {
		if len(seed) < fragLen || len(seed) > 80 || len(tok) < fragLen || len(tok) > 80 || len(text) > 2048 ||
			!utf8.Valid(seed) || !utf8.Valid(tok) || bytes.IndexByte(seed, 0) >= 0 || bytes.IndexByte(tok, 0) >= 0 {
			return
		}
		// A secret heavy enough to keep its own group, like a client key.
		var big strings.Builder
		for i := 0; big.Len() < 2*mergeBelow; i++ {
			fmt.Fprintf(&big, "%s%d", seed, i)
		}
		bigS, tokS := NewSecret("BIG", big.String()), NewSecret("TOKEN", string(tok))
		one := NewRedactor(bigS, tokS)
		two := NewRedactor(bigS)
		two.Add(tokS)
		if got := groupSizes(two); !slices.Equal(got, []int{1, 1}) {
			t.Fatalf("secrets per group = %v, want [1 1]", got)
		}
		owner := []string{big.String(), string(tok)}[int(variant)%2]
		vs := variantsOf(owner)
		v := vs[int(variant)/2%len(vs)].text
		s := int(from) % len(v)
		e := min(len(v), s+int(n))
		i := int(at) % (len(text) + 1)
		planted := append(append(append([]byte{}, text[:i]...), v[s:e]...), text[i:]...)
		sent := [][]byte{text[:len(text)/2]}
		for _, in := range [][]byte{text, planted} {
			if got, want := two.Redact(in), one.Redact(in); !bytes.Equal(got, want) {
				t.Fatalf("Redact(%q) = %q in two groups, %q in one", in, got, want)
			}
			got := anyMarker.ReplaceAll(two.RedactFragments(in, sent), []byte(markerPrefix+"]"))
			want := anyMarker.ReplaceAll(one.RedactFragments(in, sent), []byte(markerPrefix+"]"))
			if !bytes.Equal(got, want) {
				t.Fatalf("RedactFragments(%q) = %q in two groups, %q in one", in, got, want)
			}
			for c := 0; c <= len(in); c += 5 {
				if got, want := two.Cut(in, c, sent), one.Cut(in, c, sent); got != want {
					t.Fatalf("Cut(%q, %d) = %d in two groups, %d in one", in, c, got, want)
				}
			}
		}
	})
}
