package credentials

import (
	crand "crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	ahocorasick "github.com/petar-dambovaliev/aho-corasick"
)

// The benchmark corpus: 1 MiB of JSON records like an API response, with
// 100 keys and every variant of each planted once (about 1,600 plants), and
// the same records without any.
//
// Run side by side (scripts/bench-redact.sh):
//
//	go test -run='^$' -bench='^BenchmarkRedact' -benchmem ./credentials

const benchSecrets = 100

var benchOnce = sync.OnceValue(func() (c struct {
	secrets        []Secret
	variants       []string // every variant of every secret, as generated
	owner          []int    // owner[i] is the index of the secret variants[i] spells
	planted, clean []byte
}) {
	rng := rand.New(rand.NewPCG(1, 2))
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for i := range benchSecrets {
		b := make([]byte, 24+rng.IntN(25)) // 32 to 56 bytes with the prefix
		for j := range b {
			b[j] = alnum[rng.IntN(len(alnum))]
		}
		s := NewSecret(fmt.Sprintf("KEY_%03d", i), "sk-live-"+string(b))
		c.secrets = append(c.secrets, s)
		for _, v := range variantsOf(s.Reveal()) {
			c.variants = append(c.variants, v.text)
			c.owner = append(c.owner, i)
		}
	}
	words := strings.Fields("the quick brown fox jumps over lazy dog invoice quote customer " +
		"order shipped pending total amount currency status created updated")
	record := func(n int, token string) string {
		var note strings.Builder
		for range 4 + rng.IntN(12) {
			note.WriteString(words[rng.IntN(len(words))])
			note.WriteByte(' ')
		}
		return fmt.Sprintf(`{"id":%d,"name":"Customer %d","email":"c%d@example.com","amount":%d.%02d,`+
			`"note":"%s","token":"%s","tags":["a","b"]},`, n, n, n, rng.IntN(10000), rng.IntN(100), note.String(), token)
	}
	const size = 1 << 20
	var planted, clean strings.Builder
	planted.WriteString(`{"data":[`)
	clean.WriteString(`{"data":[`)
	perm := rng.Perm(len(c.variants))
	for n := 0; planted.Len() < size; n++ {
		token := fmt.Sprintf("tok_%08x", rng.Uint32())
		clean.WriteString(record(n, token))
		// Spread the plants evenly: one record in every few carries one.
		if n%3 == 0 && n/3 < len(perm) {
			token = c.variants[perm[n/3]]
		}
		planted.WriteString(record(n, token))
	}
	for clean.Len() < planted.Len() {
		clean.WriteString(record(0, "tok_0"))
	}
	c.planted = []byte(planted.String()[:size-2] + "]}")
	c.clean = []byte(clean.String()[:size-2] + "]}")
	return c
})

func BenchmarkRedact(b *testing.B) {
	c := benchOnce()
	r := NewRedactor(c.secrets...)
	st := r.current()
	for _, in := range []struct {
		name string
		text []byte
	}{{"planted", c.planted}, {"clean", c.clean}} {
		b.Run(in.name+"/keyveil-exact", func(b *testing.B) {
			var found []redactSpan
			b.SetBytes(int64(len(in.text)))
			b.ReportAllocs()
			for b.Loop() {
				found = st.m.find(in.text, found[:0])
			}
			b.ReportMetric(float64(len(found)), "matches")
		})
		b.Run(in.name+"/keyveil-full", func(b *testing.B) {
			b.SetBytes(int64(len(in.text)))
			b.ReportAllocs()
			for b.Loop() {
				r.Redact(in.text)
			}
		})
		// The fragment pass alone, and RedactFragments (whole secrets in
		// both passes, then every run of 8 or more bytes of a variant): what
		// the tools pipeline runs on an upstream body. sent is the model's
		// text of a typical call.
		b.Run(in.name+"/keyveil-fragment-pass", func(b *testing.B) {
			fx := st.fragments()
			var found []redactSpan
			b.SetBytes(int64(len(in.text)))
			b.ReportAllocs()
			for b.Loop() {
				found = fx.find(in.text, found[:0])
			}
			b.ReportMetric(float64(len(found)), "runs")
		})
		b.Run(in.name+"/keyveil-full-fragments", func(b *testing.B) {
			sent := [][]byte{[]byte("/customers/search"), []byte("q=invoice&page=2")}
			b.SetBytes(int64(len(in.text)))
			b.ReportAllocs()
			for b.Loop() {
				r.RedactFragments(in.text, sent)
			}
		})
	}
	for _, in := range []struct {
		name string
		text []byte
	}{{"planted", c.planted}, {"clean", c.clean}} {
		b.Run(in.name+"/ahocorasick-dfa-overlapping", func(b *testing.B) {
			ac := benchAhoCorasick()
			b.SetBytes(int64(len(in.text)))
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				n = 0
				it := ac.IterOverlappingByte(in.text)
				for m := it.Next(); m != nil; m = it.Next() {
					n++
				}
			}
			b.ReportMetric(float64(n), "matches")
		})
		b.Run(in.name+"/strings-replacer", func(b *testing.B) {
			rep := benchReplacer()
			s := string(in.text)
			b.SetBytes(int64(len(in.text)))
			b.ReportAllocs()
			for b.Loop() {
				rep.Replace(s)
			}
		})
	}
}

// benchAhoCorasick is the best of the Go Aho-Corasick libraries we tried
// for this job: petar-dambovaliev/aho-corasick (a port of the Rust crate)
// has ASCII case folding and overlapping search, which a redactor needs so
// that no tail of an overlapping match survives. Its DFA is its faster mode.
var benchAhoCorasick = sync.OnceValue(func() ahocorasick.AhoCorasick {
	c := benchOnce()
	bld := ahocorasick.NewAhoCorasickBuilder(ahocorasick.Opts{
		AsciiCaseInsensitive: true,
		MatchKind:            ahocorasick.StandardMatch,
		DFA:                  true,
	})
	return bld.Build(c.variants)
})

// benchReplacer is the standard library's answer: exact case only, and
// leftmost-first, so it is weaker than what it is measured against.
var benchReplacer = sync.OnceValue(func() *strings.Replacer {
	c := benchOnce()
	var args []string
	for i, v := range c.variants {
		args = append(args, v, c.secrets[c.owner[i]].String())
	}
	return strings.NewReplacer(args...)
})

// benchRSAKey is a client key of the kind a tls block registers: RSA-2048,
// PKCS#8 PEM, with every form keyForms gives the Redactor.
var benchRSAKey = sync.OnceValue(func() []Secret {
	k, err := rsa.GenerateKey(crand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err)
	}
	return keyForms("CLIENT_KEY", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
})

// BenchmarkRedactorAdd measures what an OAuth access token's arrival costs
// a Redactor that already holds an RSA-2048 client key (every form of it)
// and an API key: Add of one 40-byte token and Forget of the one before,
// as the token cache does on every renewal; and the same followed by
// RedactFragments of a short body, which is when the fragment index of the
// new secret set is built. build is the cost of the whole Redactor, for
// scale, and build-with-fragments the same with its fragment index, which
// the first upstream body builds.
func BenchmarkRedactorAdd(b *testing.B) {
	base := append([]Secret{NewSecret("API_KEY", "sk-test-0123456789abcdefghij")}, benchRSAKey()...)
	body := []byte(`{"id":123,"name":"abc","note":"the quick brown fox jumps over the lazy dog"}`)
	token := func(i int) Secret {
		return NewSecret("ACCESS_TOKEN", fmt.Sprintf("ya29.%035d", i))
	}
	b.Run("build", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			NewRedactor(base...).Redact(nil)
		}
	})
	b.Run("build-with-fragments", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			NewRedactor(base...).RedactFragments(body, nil)
		}
	})
	b.Run("add-token", func(b *testing.B) {
		r := NewRedactor(base...)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			r.Add(token(i))
			r.Forget(token(i - 1))
			i++
		}
	})
	// What a redaction pays for the token's group of its own: the same
	// secrets learnt at once (one group) and the token added after (two).
	text := []byte(strings.Repeat(`The quick brown fox jumps over the lazy dog. {"id":123,"name":"abc"}`+"\n", 200))
	one := NewRedactor(append(slices.Clone(base), token(0))...)
	two := NewRedactor(base...)
	two.Add(token(0))
	for _, rc := range []struct {
		name string
		r    *Redactor
	}{{"one-group", one}, {"two-groups", two}} {
		b.Run("redact-14KB/"+rc.name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				rc.r.Redact(text)
			}
		})
		b.Run("fragments-14KB/"+rc.name, func(b *testing.B) {
			rc.r.RedactFragments(text, nil)
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				rc.r.RedactFragments(text, nil)
			}
		})
	}
	b.Run("add-token-then-fragments", func(b *testing.B) {
		r := NewRedactor(base...)
		r.RedactFragments(body, nil)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			r.Add(token(i))
			r.Forget(token(i - 1))
			r.RedactFragments(body, nil)
			i++
		}
	})
}
