package remote

import (
	"math"
	"sync"
	"time"

	"github.com/keyveil/keyveil/keys"
	"golang.org/x/time/rate"
)

// limiters holds one token bucket per key id. A bucket is rebuilt when the
// key's rate changes in the registry; buckets of keys that left the
// registry stay until restart, a few dozen bytes each.
type limiters struct {
	def keys.Rate
	m   sync.Map // key id -> *bucket
}

type bucket struct {
	rate keys.Rate
	lim  *rate.Limiter
}

// allow takes a token for k at now, or reports how many whole seconds
// (at least one) until one will be there.
func (l *limiters) allow(k *keys.Key, now time.Time) (ok bool, retryAfter int) {
	r := k.Rate
	if r.IsZero() {
		r = l.def
	}
	if r.IsZero() {
		return true, 0
	}
	v, _ := l.m.Load(k.ID)
	b, _ := v.(*bucket)
	if b == nil || b.rate != r {
		lim := rate.NewLimiter(rate.Limit(float64(r.Events)/r.Per.Seconds()), r.Events)
		b = &bucket{rate: r, lim: lim}
		l.m.Store(k.ID, b) // racing first requests may each store one; the last wins
	}
	res := b.lim.ReserveN(now, 1)
	if !res.OK() {
		return false, int(r.Per.Seconds())
	}
	wait := res.DelayFrom(now)
	if wait == 0 {
		return true, 0
	}
	res.CancelAt(now)
	return false, max(1, int(math.Ceil(wait.Seconds())))
}
