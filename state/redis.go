package state

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrUnavailable is matched (errors.Is) by every error a [Redis] method
// returns when the server could not be asked or did not answer. Callers
// refuse the call that needed the decision and say to retry.
var ErrUnavailable = errors.New("shared state (Redis) unreachable")

// keyPrefix starts every key keyveil writes, so that one Redis database
// can hold other data beside it.
const keyPrefix = "keyveil:"

// Options configures [Open].
type Options struct {
	// URL is redis://[USER[:PASSWORD]@]HOST[:PORT][/DB], or rediss:// for
	// TLS. Required.
	URL string
	// Password is used when the URL has none (KEYVEIL_STATE_PASSWORD or
	// its _FILE); "": the URL's, or no password. Both set is an error.
	Password string
	// OnError is called with the operation's name ("rate", "idempotency",
	// "nonce", "signing_key", "ping") each time Redis fails one, for the
	// metrics; nil: not called. It must be quick and safe for concurrent
	// use.
	OnError func(op string)
}

// Redis is shared state in one Redis database. It is safe for concurrent
// use; Close releases its connections.
type Redis struct {
	c       *redis.Client
	where   string
	onError func(string)

	keyMu sync.Mutex
	key   []byte // confirmation signing key, once read
}

// Open checks the URL and returns a Redis that connects lazily: it does not
// wait for the server, so a replica starts while Redis is still coming up
// and answers with clear refusals until it is there. Its errors never quote
// the URL.
func Open(o *Options) (*Redis, error) {
	t, err := parseURL(o.URL)
	if err != nil {
		return nil, err
	}
	if o.Password != "" {
		if t.password != "" {
			return nil, errors.New("the --state URL holds a password and KEYVEIL_STATE_PASSWORD is set too; set only one")
		}
		t.password = o.Password
	}
	quietLibrary()
	onError := o.OnError
	if onError == nil {
		onError = func(string) {}
	}
	return &Redis{c: redis.NewClient(t.options()), where: t.where(), onError: onError}, nil
}

// quietLibrary stops go-redis logging on its own through the standard log
// package, which would write to stderr around the redactor: every failure
// reaches the caller as an error, which keyveil logs through slog.
var quietLibrary = sync.OnceFunc(func() { redis.SetLogger(voidLogger{}) })

type voidLogger struct{}

func (voidLogger) Printf(context.Context, string, ...any) {}

// Where names the server as host:port/db with its scheme, for logs: never
// the password.
func (s *Redis) Where() string { return s.where }

// Close closes the connections.
func (s *Redis) Close() error { return s.c.Close() }

// Ping reports whether the server answers.
func (s *Redis) Ping(ctx context.Context) error {
	return s.fail("ping", s.c.Ping(ctx).Err())
}

// fail turns a go-redis error into one that matches ErrUnavailable and
// counts it. go-redis errors name the address, never the password.
func (s *Redis) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	s.onError(op)
	return fmt.Errorf("%w: %s at %s: %v", ErrUnavailable, op, s.where, err)
}

// Limit is one rate bucket: Events per Per, holding at most Burst tokens.
// Its Key names it across the fleet ("service:crm", "key:ID"); two limits
// with one key share one bucket.
type Limit struct {
	Key    string
	Events int
	Per    time.Duration
	Burst  int
}

// The three scripts are made on first use: making one hashes its source,
// which every start, stdio included, would pay before main for what only
// `serve --http --state` runs.

// rateScript is GCRA (the generic cell rate algorithm, a token bucket kept
// as one number per bucket: the theoretical arrival time of the next
// token) over several buckets at once: it takes one token from every
// bucket or from none. Time is the Redis server's, so replicas with
// skewed clocks agree. With ARGV[1] = "1" it only reports.
//
// It returns {wait in microseconds, 1-based index of the bucket that
// refused}; {0, 0} when the call may go.
var rateScript = sync.OnceValue(func() *redis.Script {
	return redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local peek = ARGV[1] == '1'
local tats = {}
local wait, which = 0, 0
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i])
  local tau = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local nt = tat + interval
  local w = nt - now - tau
  if w > 0 then
    if not peek then return {math.ceil(w), i} end
    if w > wait then wait, which = math.ceil(w), i end
  end
  tats[i] = nt
end
if peek then return {wait, which} end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX', math.ceil((tats[i] - now) / 1000) + 1000)
end
return {0, 0}
`)
})

// Allow takes one token from every limit in ls, or none: when one is
// empty it returns how long until it has one and its index in ls. With
// peek it takes nothing and reports the longest wait, so that a call that
// would be refused anyway is refused before the user is asked to confirm
// it. which is -1 when the call may go.
func (s *Redis) Allow(ctx context.Context, ls []Limit, peek bool) (wait time.Duration, which int, err error) {
	if len(ls) == 0 {
		return 0, -1, nil
	}
	keys := make([]string, len(ls))
	args := make([]any, 1, 1+2*len(ls))
	args[0] = "0"
	if peek {
		args[0] = "1"
	}
	for i, l := range ls {
		keys[i] = keyPrefix + "rate:" + l.Key
		interval := float64(l.Per.Microseconds()) / float64(max(l.Events, 1))
		args = append(args, strconv.FormatFloat(interval, 'f', 3, 64), strconv.FormatFloat(interval*float64(l.Burst), 'f', 3, 64))
	}
	r, err := rateScript().Run(ctx, s.c, keys, args...).Int64Slice()
	if err != nil || len(r) != 2 {
		if err == nil {
			err = errors.New("unexpected reply")
		}
		return 0, -1, s.fail("rate", err)
	}
	if r[1] == 0 {
		return 0, -1, nil
	}
	return time.Duration(r[0]) * time.Microsecond, int(r[1]) - 1, nil
}

// PutNonce records a confirmation nonce as open for ttl.
func (s *Redis) PutNonce(ctx context.Context, nonce []byte, ttl time.Duration) error {
	return s.fail("nonce", s.c.Set(ctx, nonceKey(nonce), "1", ttl).Err())
}

// TakeNonce redeems a nonce: true the one time it was open, false after
// (on any replica), or when it expired.
func (s *Redis) TakeNonce(ctx context.Context, nonce []byte) (bool, error) {
	n, err := s.c.Del(ctx, nonceKey(nonce)).Result()
	if err != nil {
		return false, s.fail("nonce", err)
	}
	return n == 1, nil
}

func nonceKey(nonce []byte) string { return keyPrefix + "nonce:" + hex.EncodeToString(nonce) }

// SigningKey returns the fleet's key for signing confirmation request
// states, made by whichever replica asks first: a state issued by one
// replica must verify on every other. It is read once and kept.
func (s *Redis) SigningKey(ctx context.Context) ([]byte, error) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if s.key != nil {
		return s.key, nil
	}
	var fresh [32]byte
	_, _ = rand.Read(fresh[:])
	k := keyPrefix + "confirm-signing-key"
	if err := s.c.SetNX(ctx, k, hex.EncodeToString(fresh[:]), 0).Err(); err != nil {
		return nil, s.fail("signing_key", err)
	}
	v, err := s.c.Get(ctx, k).Result()
	if err != nil {
		return nil, s.fail("signing_key", err)
	}
	key, err := hex.DecodeString(v)
	if err != nil || len(key) != 32 {
		return nil, s.fail("signing_key", errors.New("the stored signing key is malformed; delete "+k))
	}
	s.key = key
	return key, nil
}

// Lease is an idempotent operation this caller leads: it must call
// [Redis.Finish] once the call ends.
type Lease struct {
	// HeaderKey is the idempotency header value to send: new, or the one a
	// failed earlier attempt sent.
	HeaderKey string
	key       string
	token     string
}

// Done is a remembered result to replay.
type Done struct {
	HeaderKey string
	Result    []byte
	Status    int
	At        time.Time
}

// acquireScript decides an operation in one step: lead it (new, or failed
// before and so retried with the same header value), replay it, wait for
// the replica running it, or refuse it (same id, other arguments).
var acquireScript = sync.OnceValue(func() *redis.Script {
	return redis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'b', 'st', 'hk', 'res', 'status', 'at')
if not f[1] then
  redis.call('HSET', KEYS[1], 'b', ARGV[1], 'st', 'run', 'hk', ARGV[2], 'own', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return {'lead', ARGV[2]}
end
if f[1] ~= ARGV[1] then return {'conflict'} end
if f[2] == 'done' then return {'replay', f[3], f[4], f[5], f[6]} end
if f[2] == 'run' then return {'wait'} end
redis.call('HSET', KEYS[1], 'st', 'run', 'own', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {'lead', f[3]}
`)
})

// finishScript ends an operation its leader still owns: kept for replay,
// kept as failed (so a retry sends the same header value), or forgotten
// when no request was ever sent.
var finishScript = sync.OnceValue(func() *redis.Script {
	return redis.NewScript(`
if redis.call('HGET', KEYS[1], 'own') ~= ARGV[1] then return 0 end
local sent = ARGV[3] == '1' or redis.call('HGET', KEYS[1], 'sent') == '1'
if not sent then
  redis.call('DEL', KEYS[1])
  return 1
end
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], 'st', 'done', 'res', ARGV[4], 'status', ARGV[5], 'at', ARGV[6], 'sent', '1')
else
  redis.call('HSET', KEYS[1], 'st', 'fail', 'sent', '1')
end
redis.call('HDEL', KEYS[1], 'own')
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return 1
`)
})

// Acquire finds operation id (any bytes; it is hashed) for the call whose
// arguments hash to binding. It returns a Lease the caller now leads, or a
// Done result to replay, or conflict when id was used with other
// arguments. While another replica runs the operation it waits, polling,
// until that one finishes, its lease runs out (a replica that died), or
// ctx ends. newHeaderKey is the header value a new operation sends; lease
// bounds how long a leader may hold the operation.
func (s *Redis) Acquire(ctx context.Context, id, binding []byte, newHeaderKey string, lease time.Duration) (lead *Lease, replay *Done, conflict bool, err error) {
	sum := sha256.Sum256(id)
	key := keyPrefix + "idem:" + hex.EncodeToString(sum[:])
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	token := hex.EncodeToString(tok[:])
	b := hex.EncodeToString(binding)
	pause := 10 * time.Millisecond
	for {
		r, err := acquireScript().Run(ctx, s.c, []string{key}, b, newHeaderKey, token, lease.Milliseconds()).Slice()
		if err != nil || len(r) == 0 {
			if ctx.Err() != nil {
				return nil, nil, false, ctx.Err()
			}
			if err == nil {
				err = errors.New("unexpected reply")
			}
			return nil, nil, false, s.fail("idempotency", err)
		}
		switch r[0] {
		case "lead":
			hk, _ := r[1].(string)
			return &Lease{HeaderKey: hk, key: key, token: token}, nil, false, nil
		case "conflict":
			return nil, nil, true, nil
		case "replay":
			d := &Done{}
			if len(r) == 5 {
				d.HeaderKey, _ = r[1].(string)
				res, _ := r[2].(string)
				d.Result = []byte(res)
				st, _ := r[3].(string)
				d.Status, _ = strconv.Atoi(st)
				at, _ := r[4].(string)
				ms, _ := strconv.ParseInt(at, 10, 64)
				d.At = time.UnixMilli(ms)
			}
			return nil, d, false, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil, false, ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 200*time.Millisecond)
	}
}

// Finish ends the operation l leads. sent says whether a request went out;
// when keep is true, result (with the HTTP status and when it came back)
// is replayed to identical calls for window. An operation that never sent
// anything is forgotten, so a refused call leaves no trace.
func (s *Redis) Finish(ctx context.Context, l *Lease, result []byte, status int, at time.Time, sent, keep bool, window time.Duration) error {
	err := finishScript().Run(ctx, s.c, []string{l.key}, l.token, flag(keep), flag(sent), result, status,
		at.UnixMilli(), max(1, int64(math.Ceil(float64(window)/float64(time.Millisecond))))).Err()
	return s.fail("idempotency", err)
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
