package detect

import (
	"encoding/base64"
	"math/rand/v2"
	"strings"
)

// Fake secrets in each format's documented shape, generated so that no
// real-looking key is committed. Every one is random but fixed by seed.

const (
	chAlnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	chWord  = chAlnum + "_-"
	chHex   = "0123456789abcdef"
	chB32   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	chB64   = chAlnum + "+/"
	chAlpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	chDig   = "0123456789"
)

func rnd(r *rand.Rand, chars string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[r.IntN(len(chars))]
	}
	return string(b)
}

// fake is one generated secret: its kind and the bytes a marker must
// replace (for a URL password or AWS secret, only the value).
type fake struct {
	kind   string
	text   string // as it appears in a body
	secret string // the part that must not survive
}

// fakes returns n generated secrets of every built-in kind.
func fakes(seed uint64, n int) []fake {
	r := rand.New(rand.NewPCG(seed, 99))
	var out []fake
	add := func(kind, text, secret string) { out = append(out, fake{kind, text, secret}) }
	for range n {
		for _, p := range []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_"} {
			body := rnd(r, chAlnum, 30)
			t := p + body + base62CRC([]byte(body))
			add("github-token", t, t)
		}
		t := "github_pat_" + rnd(r, chAlnum, 22) + "_" + rnd(r, chAlnum, 59)
		add("github-token", t, t)
		t = "glpat-" + rnd(r, chWord, 20)
		add("gitlab-token", t, t)
		t = "xoxb-" + rnd(r, chDig, 12) + "-" + rnd(r, chDig, 13) + "-" + rnd(r, chAlnum, 24)
		add("slack-token", t, t)
		t = "xoxp-" + rnd(r, chDig, 11) + "-" + rnd(r, chDig, 11) + "-" + rnd(r, chDig, 12) + "-" + rnd(r, chHex, 32)
		add("slack-token", t, t)
		t = []string{"sk_live_", "rk_live_", "sk_test_"}[r.IntN(3)] + rnd(r, chAlnum, 24+r.IntN(76))
		add("stripe-key", t, t)
		t = []string{"AKIA", "ASIA"}[r.IntN(2)] + rnd(r, chB32, 16)
		add("aws-access-key-id", t, t)
		s := rnd(r, chB64, 40)
		add("aws-secret-access-key", "aws_secret_access_key = "+s, s)
		t = "AIza" + rnd(r, chWord, 35)
		add("google-api-key", t, t)
		t = "sk-proj-" + rnd(r, chWord, 74) + "T3BlbkFJ" + rnd(r, chWord, 74)
		add("openai-api-key", t, t)
		t = "sk-" + rnd(r, chAlnum, 20) + "T3BlbkFJ" + rnd(r, chAlnum, 20)
		add("openai-api-key", t, t)
		t = "sk-ant-api03-" + rnd(r, chWord, 93) + "AA"
		add("anthropic-api-key", t, t)
		body := rnd(r, chAlnum, 30)
		t = "npm_" + body + base62CRC([]byte(body))
		add("npm-token", t, t)
		t = "pypi-AgEIcHlwaS5vcmc" + rnd(r, chWord, 70)
		add("pypi-token", t, t)
		t = "SG." + rnd(r, chWord, 22) + "." + rnd(r, chWord, 43)
		add("sendgrid-api-key", t, t)
		t = "shpat_" + rnd(r, chHex, 32)
		add("shopify-token", t, t)
		t = "hf_" + rnd(r, chAlpha, 34)
		add("huggingface-token", t, t)
		t = "dop_v1_" + rnd(r, chHex, 64)
		add("digitalocean-token", t, t)
		s = rnd(r, chB64, 86) + "=="
		add("azure-storage-key", "DefaultEndpointsProtocol=https;AccountName=fake;AccountKey="+s+";EndpointSuffix=core.windows.net", s)
		pem := fakePEM(r, "-----BEGIN PRIVATE KEY-----\n", "-----END PRIVATE KEY-----")
		add("private-key", pem, pem)
		pem = fakePEM(r, "-----BEGIN RSA PRIVATE KEY-----\n", "-----END RSA PRIVATE KEY-----")
		add("private-key", pem, pem)
		t = fakeJWT(r)
		add("jwt", t, t)
		s = rnd(r, chAlnum, 12+r.IntN(12))
		add("url-password", "postgres://app_user:"+s+"@db.internal:5432/app", s)
	}
	return out
}

func fakePEM(r *rand.Rand, begin, end string) string {
	var b strings.Builder
	b.WriteString(begin)
	for range 6 {
		b.WriteString(rnd(r, chB64, 64))
		b.WriteByte('\n')
	}
	b.WriteString(end)
	return b.String()
}

func fakeJWT(r *rand.Rand) string {
	enc := base64.RawURLEncoding
	h := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	p := enc.EncodeToString([]byte(`{"sub":"` + rnd(r, chDig, 8) + `","iat":1700000000,"scope":"repo"}`))
	return h + "." + p + "." + rnd(r, chWord, 43)
}
