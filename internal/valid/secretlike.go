// Package valid holds the syntax checks that the services file and the
// auth schemes share: environment variable names, header tokens, base URLs,
// and the test for a value that looks like a secret written where a name
// belongs. It exists so that config and credentials/scheme, which must not
// import each other's checks, apply one rule, not two copies of it.
//
// Nothing here ever repeats a value that may be a secret.
package valid

import (
	"math"
	"strconv"
	"strings"
)

// secretPrefixes start keys that vendors issue. A value with one of them,
// written where an environment variable's name belongs, is a key pasted
// into the services file: the file is not secret (it is committed, shared
// and shown by keyveil check), so keyveil refuses it.
var secretPrefixes = []string{
	"sk-", "sk_", "rk_", "pk_live_", "whsec_", // OpenAI, Anthropic, Stripe
	"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", // GitHub
	"xoxb-", "xoxp-", "xoxa-", "xoxe-", "xapp-", // Slack
	"AKIA", "ASIA", // AWS access key IDs
	"glpat-", "AIza", "SG.", "shpat_", "npm_", "hf_", "dop_v1_",
}

// LooksLikeSecret reports whether v looks like a credential rather than a
// name: a known vendor prefix, or a long run of mixed-case letters and
// digits with the entropy of random text. Environment variable names
// (CRM_API_KEY, GITHUB_TOKEN_FOR_THE_DEPLOY_BOT) are upper case and
// underscores, and never match.
func LooksLikeSecret(v string) bool {
	v = strings.TrimSpace(v)
	if len(v) < 8 {
		return false
	}
	for _, p := range secretPrefixes {
		if strings.HasPrefix(v, p) && len(v) >= len(p)+8 {
			return true
		}
	}
	if strings.HasPrefix(strings.ToLower(v), "bearer ") || strings.HasPrefix(strings.ToLower(v), "basic ") {
		return true
	}
	if len(v) < 20 || strings.ContainsAny(v, " \t") {
		return false
	}
	var lower, upper, digit int
	for _, c := range v {
		switch {
		case c >= 'a' && c <= 'z':
			lower++
		case c >= 'A' && c <= 'Z':
			upper++
		case c >= '0' && c <= '9':
			digit++
		}
	}
	if lower == 0 || (upper == 0 && digit == 0) {
		return false
	}
	return entropy(v) >= 3.5
}

// Quote returns v quoted for an error message, or a note that it is not
// shown when v looks like a secret: a value written in the wrong place of
// the services file or MCP_API_* is sometimes the key itself, and errors go
// to stderr and keyveil check's output, which the redactor does not know
// that key for. The error's file:line still points at it.
func Quote(v string) string {
	if LooksLikeSecret(v) {
		return "(a value that looks like a secret, not shown)"
	}
	return strconv.Quote(v)
}

// entropy returns the Shannon entropy of s in bits per byte.
func entropy(s string) float64 {
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	var h float64
	n := float64(len(s))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}
