package remote

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/keyveil/keyveil/keys"
	"github.com/keyveil/keyveil/state"
	"golang.org/x/time/rate"
)

// limiters holds one token bucket per key id. A bucket is rebuilt when the
// key's rate changes in the registry; buckets of keys that left the
// registry stay until restart, a few dozen bytes each.
type limiters struct {
	def keys.Rate
	m   sync.Map // key id -> *bucket
	// shared, when set, holds the buckets instead (Options.State), so
	// that a key's rate holds across every replica together.
	shared *state.Redis
}

type bucket struct {
	rate keys.Rate
	lim  *rate.Limiter
}

// allow takes a token for k at now, or reports how many whole seconds
// (at least one) until one will be there. err is the shared state's: the
// request must be refused, since no replica may decide alone.
func (l *limiters) allow(ctx context.Context, k *keys.Key, now time.Time) (ok bool, retryAfter int, err error) {
	r := k.Rate
	if r.IsZero() {
		r = l.def
	}
	if r.IsZero() {
		return true, 0, nil
	}
	if l.shared != nil {
		wait, which, err := l.shared.Allow(ctx, []state.Limit{{Key: "key:" + k.ID, Events: r.Events, Per: r.Per, Burst: r.Events}}, false)
		if err != nil || which < 0 {
			return err == nil, 0, err
		}
		return false, max(1, int(math.Ceil(wait.Seconds()))), nil
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
		return false, int(r.Per.Seconds()), nil
	}
	wait := res.DelayFrom(now)
	if wait == 0 {
		return true, 0, nil
	}
	res.CancelAt(now)
	return false, max(1, int(math.Ceil(wait.Seconds()))), nil
}
