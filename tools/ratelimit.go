package tools

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keyveil/keyveil/config"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/time/rate"
)

// Rate limits are token buckets, one per service (all tools that reach
// the service, call_api included, draw from it) and one per declared tool
// that sets its own rate. A call takes one token from each bucket that
// applies or from none: over the limit it is refused at once with the
// seconds until a token is free (retry_after). Nothing queues, so a model
// in a loop cannot pile up requests that fire later, and a refused call
// costs the upstream API nothing.
//
// An upstream 429 (or 503) with Retry-After is passed on in the same shape:
// the result's retry_after holds the seconds the API asked for.

// reasonRate is the refusal reason of a call over a rate limit.
const reasonRate = "rate"

// limiters holds the buckets, created on first use. Safe for concurrent
// use.
type limiters struct {
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// bucket is one limit that applies to a call, with the name messages use.
type bucket struct {
	key   string // "service:crm", "tool:send_mail"
	what  string // "the crm service", "the tool send_mail"
	limit config.Limit
}

// bucketsFor returns the limits that apply to a call of tool on svc:
// the service's, then the tool's own (zero limits are left out).
func bucketsFor(svc config.Service, tool string, toolLimit config.Limit) []bucket {
	var bs []bucket
	if l := svc.Limit(); !l.IsZero() {
		bs = append(bs, bucket{"service:" + svc.Name, "the " + svc.Name + " service", l})
	}
	if !toolLimit.IsZero() {
		bs = append(bs, bucket{"tool:" + tool, "the tool " + tool, toolLimit})
	}
	return bs
}

func (l *limiters) get(b bucket) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buckets == nil {
		l.buckets = map[string]*rate.Limiter{}
	}
	lim, ok := l.buckets[b.key]
	if !ok {
		lim = rate.NewLimiter(rate.Limit(b.limit.PerSecond()), b.limit.Burst)
		l.buckets[b.key] = lim
	}
	return lim
}

// peek reports how long until every bucket in bs holds a token at now,
// without taking any, and which bucket is the slowest; 0 when a call could
// go now. It lets a call that would be refused anyway be refused before
// the user is asked to confirm it.
func (l *limiters) peek(now time.Time, bs []bucket) (time.Duration, bucket) {
	var wait time.Duration
	var which bucket
	for _, b := range bs {
		lim := l.get(b)
		if tokens := lim.TokensAt(now); tokens < 1 {
			w := time.Duration(math.Ceil((1 - tokens) / float64(lim.Limit()) * float64(time.Second)))
			if w > wait {
				wait, which = w, b
			}
		}
	}
	return wait, which
}

// take takes one token from every bucket in bs at now, or none: when one
// bucket is empty, the tokens already taken are given back and take
// returns how long until that bucket has one.
func (l *limiters) take(now time.Time, bs []bucket) (time.Duration, bucket) {
	var taken []*rate.Reservation
	for _, b := range bs {
		r := l.get(b).ReserveN(now, 1)
		if d := r.DelayFrom(now); !r.OK() || d > 0 {
			r.CancelAt(now)
			for _, t := range taken {
				t.CancelAt(now)
			}
			if !r.OK() {
				d = b.limit.Per
			}
			return d, b
		}
		taken = append(taken, r)
	}
	return 0, bucket{}
}

// retrySeconds renders a wait as the seconds a model should wait: rounded
// up to the millisecond, so that waiting that long is always enough.
func retrySeconds(d time.Duration) float64 {
	return math.Ceil(float64(d)/float64(time.Millisecond)) / 1000
}

// retryAfterHeader is the Retry-After value for a wait: whole seconds,
// rounded up, at least 1.
func retryAfterHeader(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// rateLimited is the refusal of a call over a limit. Its structured
// content has the shape of an upstream 429 (status 429, a Retry-After
// header, retry_after seconds), so a model handles both the same way; its
// body says that keyveil refused and nothing was sent.
func (d Deps) rateLimited(rec *Record, b bucket, wait time.Duration) *mcp.CallToolResult {
	secs := retrySeconds(wait)
	msg := fmt.Sprintf("keyveil refused the call: %s allows %s and that is used up. Nothing was sent. Retry after %g seconds (retry_after), or do something else meanwhile",
		b.what, b.limit, secs)
	rec.Outcome = outcomeRefused + reasonRate
	rec.RetryAfter = secs
	rec.Error = d.redactString(msg)
	res := d.structuredResult(callResult{
		Status:  http.StatusTooManyRequests,
		Headers: map[string]string{"Retry-After": retryAfterHeader(wait)},
		Body: map[string]any{
			"error":       "rate limited by keyveil",
			"refused_by":  "keyveil",
			"limit":       b.what + ": " + b.limit.String(),
			"retry_after": secs,
		},
		RetryAfter: &secs,
	}, true)
	res.Content = append(res.Content, &mcp.TextContent{Text: d.redactString(msg)})
	return res
}

// upstreamRetryAfter reads the Retry-After header of a 429 or 503 response:
// delay-seconds or an HTTP date, relative to now. ok is false when there
// is none or it cannot be read.
func upstreamRetryAfter(status int, h http.Header, now time.Time) (float64, bool) {
	if status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable {
		return 0, false
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 && !math.IsInf(n, 0) {
		return n, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, retrySeconds(t.Sub(now))), true
	}
	return 0, false
}
