package keys

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Errors from [Registry.Authenticate]. Their text is what a refused client
// is told, so none of them says whether an id exists: an unknown id and a
// wrong secret for a known one are both ErrInvalid. Revoked and expired are
// told apart only to a caller who holds the right secret.
var (
	// ErrMissing: no key was presented.
	ErrMissing = errors.New("missing API key")
	// ErrInvalid: the key is malformed, unknown, or its secret is wrong.
	ErrInvalid = errors.New("invalid API key")
	// ErrRevoked: the key was revoked.
	ErrRevoked = errors.New("API key revoked")
	// ErrExpired: the key's lifetime, or its rotation overlap, has ended.
	ErrExpired = errors.New("API key expired")
)

// ErrNotFound is returned by Revoke and Rotate for an id the registry does
// not hold.
var ErrNotFound = errors.New("no key with this id")

// Options configures a Registry. The zero value is ready to use.
type Options struct {
	// Now is the clock that decides expiry and stamps new keys; nil:
	// time.Now. Polling the file uses the real clock regardless.
	Now func() time.Time
	// PollInterval is how often Authenticate checks the file for changes
	// made by another process (one stat call; the file is read only when it
	// changed). Zero: one second; negative: never (only this Registry's own
	// writes are seen).
	PollInterval time.Duration
	// Logger receives reload failures; nil: discard.
	Logger *slog.Logger
	// CreateMissing makes a missing file an empty registry, written (with
	// its directory, mode 0700) on the first change. False: Open fails on a
	// missing file, which is what a server wants.
	CreateMissing bool
}

// Registry is the set of API keys in one registry file. Its methods are safe
// for concurrent use, and Authenticate does not block on writers: it reads
// an immutable snapshot that reloads and writes replace whole.
type Registry struct {
	path   string
	now    func() time.Time
	poll   time.Duration
	logger *slog.Logger
	create bool

	start     time.Time    // monotonic base for nextCheck
	nextCheck atomic.Int64 // nanoseconds since start
	snap      atomic.Pointer[snapshot]

	mu      sync.Mutex               // serialises reloads and writes
	used    map[string]*atomic.Int64 // id -> unix seconds of last use here
	badStat os.FileInfo              // last file version that failed to load

	// decoy is what an unknown id's secret is compared against, so that an
	// unknown id costs the same hash and comparison as a known one. It is
	// made by Open, not at package initialisation, so that keyveil's stdio
	// mode, which has no registry, does not read random bytes at start-up.
	decoy [sha256.Size]byte
}

type snapshot struct {
	byID map[string]*entry
	fi   os.FileInfo // nil: no file
}

type entry struct {
	key  Key // read-only once published
	hash [sha256.Size]byte
	used *atomic.Int64
}

// Open loads the registry at path. It fails if the file is missing (unless
// opts.CreateMissing), malformed, or readable by group or others.
func Open(path string, opts *Options) (*Registry, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	r := &Registry{
		path:   path,
		now:    o.Now,
		poll:   cmp.Or(o.PollInterval, time.Second),
		logger: o.Logger,
		create: o.CreateMissing,
		start:  time.Now(),
		used:   make(map[string]*atomic.Int64),
	}
	_, _ = rand.Read(r.decoy[:]) // crypto/rand.Read never fails
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	r.nextCheck.Store(int64(r.poll))
	d, fi, err := readFile(path)
	switch {
	case isNotExist(err) && r.create:
		d = &fileData{Version: fileVersion}
	case isNotExist(err):
		return nil, fmt.Errorf("opening key registry: %w; create it with: keyveil keys create --keys %s --name NAME", err, path)
	case err != nil:
		return nil, err
	}
	r.mu.Lock()
	r.snap.Store(r.build(d, fi))
	r.mu.Unlock()
	return r, nil
}

// Path returns the registry file's path.
func (r *Registry) Path() string { return r.path }

// Authenticate checks a presented key and returns the key it names. It
// returns one of ErrMissing, ErrInvalid, ErrRevoked and ErrExpired on
// refusal; with ErrRevoked and ErrExpired it returns the key too, so that
// the caller can record which key was refused.
//
// The secret's hash is compared in constant time, and an unknown id is
// hashed and compared against a decoy, so neither the answer nor its timing
// tells an id that exists from one that does not.
func (r *Registry) Authenticate(presented string) (*Key, error) {
	if presented == "" {
		return nil, ErrMissing
	}
	r.maybeReload()
	id, secret, ok := split(presented)
	if !ok {
		return nil, ErrInvalid
	}
	e := r.snap.Load().byID[id]
	want := &r.decoy
	if e != nil {
		want = &e.hash
	}
	got := hashSecret(secret)
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || e == nil {
		return nil, ErrInvalid
	}
	now := r.now()
	if e.key.Status != StatusActive {
		return &e.key, ErrRevoked
	}
	if e.key.Expired(now) {
		return &e.key, ErrExpired
	}
	if sec := now.Unix(); e.used.Load() < sec {
		e.used.Store(sec) // a lost race stores a time a second off; harmless
	}
	return &e.key, nil
}

// maybeReload stats the file at most once per poll interval, on whichever
// caller gets there first; the others go on with the current snapshot.
func (r *Registry) maybeReload() {
	if r.poll < 0 {
		return
	}
	now := int64(time.Since(r.start))
	next := r.nextCheck.Load()
	if now < next || !r.nextCheck.CompareAndSwap(next, now+int64(r.poll)) {
		return
	}
	r.reload()
}

// reload replaces the snapshot if the file changed. A file that fails to
// load leaves the last good snapshot in place — a half-saved hand edit
// should not lock every client out — and is logged once per version. A
// removed file is an empty registry: every key is refused until it returns.
func (r *Registry) reload() {
	st, statErr := os.Stat(r.path)
	if statErr == nil && sameVersion(r.snap.Load().fi, st) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.snap.Load()
	if statErr == nil && (sameVersion(cur.fi, st) || sameVersion(r.badStat, st)) {
		return
	}
	d, fi, err := readFile(r.path)
	switch {
	case isNotExist(err):
		if cur.fi != nil {
			r.logger.Warn("key registry removed; refusing every key until it is back", "path", r.path)
			r.snap.Store(r.build(&fileData{Version: fileVersion}, nil))
		}
	case err != nil:
		r.badStat = st
		r.logger.Error("key registry not reloaded; still using the version loaded before", "path", r.path, "err", err)
	default:
		r.badStat = nil
		r.snap.Store(r.build(d, fi))
	}
}

// sameVersion reports whether two stats describe the same version of the
// registry file. Writes by this package replace the inode; a chmod changes
// the mode, which must be re-checked.
func sameVersion(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) &&
		a.Size() == b.Size() && a.Mode() == b.Mode()
}

// build makes a snapshot from a decoded file. It must be called with r.mu
// held, since it shares last-use counters across snapshots.
func (r *Registry) build(d *fileData, fi os.FileInfo) *snapshot {
	s := &snapshot{byID: make(map[string]*entry, len(d.Keys)), fi: fi}
	for _, rec := range d.Keys {
		e := &entry{key: rec.Key, used: r.used[rec.ID]}
		_, _ = hex.Decode(e.hash[:], []byte(rec.SHA256)) // checked by decode
		e.key.Scopes, _ = normalizeScopes(rec.Scopes)
		if e.used == nil {
			e.used = new(atomic.Int64)
		}
		s.byID[rec.ID] = e
	}
	for id := range r.used {
		if s.byID[id] == nil {
			delete(r.used, id)
		}
	}
	for id, e := range s.byID {
		r.used[id] = e.used
	}
	return s
}

// List returns every key in the file, oldest first, with last-used times
// merged from this process's own use. It reads the file afresh, so it shows
// changes made elsewhere even when polling is off.
func (r *Registry) List() ([]Key, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, _, err := readFile(r.path)
	switch {
	case isNotExist(err) && r.create:
		return nil, nil
	case err != nil:
		return nil, err
	}
	r.mergeUsed(d)
	out := make([]Key, 0, len(d.Keys))
	for _, rec := range d.Keys {
		k := rec.Key
		k.Scopes, _ = normalizeScopes(k.Scopes)
		out = append(out, k)
	}
	slices.SortStableFunc(out, func(a, b Key) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// Create adds a key and returns it, with the plaintext the client must
// present. The plaintext exists nowhere else: the file stores its hash.
// lifetime zero means the key never expires; a zero rate means the server's
// default.
func (r *Registry) Create(name string, scopes []string, lifetime time.Duration, rate Rate) (string, *Key, error) {
	if err := checkName(name); err != nil {
		return "", nil, fmt.Errorf("creating key: %w", err)
	}
	scopes, err := normalizeScopes(scopes)
	if err != nil {
		return "", nil, fmt.Errorf("creating key: %w", err)
	}
	if lifetime < 0 {
		return "", nil, errors.New("creating key: lifetime must not be negative")
	}
	if !rate.IsZero() && (rate.Events <= 0 || rate.Per <= 0) {
		return "", nil, errors.New("creating key: rate must be a positive count per positive period")
	}
	var plaintext string
	var k Key
	err = r.update(func(d *fileData, now time.Time) (bool, error) {
		id, secret := r.freshMaterial(d)
		k = Key{ID: id, Name: name, Scopes: scopes, Status: StatusActive, Rate: rate, Created: now}
		if lifetime > 0 {
			k.Expires = now.Add(lifetime)
		}
		h := hashSecret(secret)
		d.Keys = append(d.Keys, record{Key: k, SHA256: hex.EncodeToString(h[:])})
		plaintext = format(id, secret)
		return true, nil
	})
	if err != nil {
		return "", nil, err
	}
	return plaintext, &k, nil
}

func (r *Registry) freshMaterial(d *fileData) (id, secret string) {
	for {
		id, secret = newMaterial()
		if !slices.ContainsFunc(d.Keys, func(rec record) bool { return rec.ID == id }) {
			return id, secret
		}
	}
}

// Revoke marks a key revoked; the running server refuses it from its next
// poll on. Revoking a revoked key changes nothing and is not an error.
func (r *Registry) Revoke(id string) error {
	return r.update(func(d *fileData, now time.Time) (bool, error) {
		i := slices.IndexFunc(d.Keys, func(rec record) bool { return rec.ID == id })
		if i < 0 {
			return false, fmt.Errorf("revoking %s: %w", id, ErrNotFound)
		}
		if d.Keys[i].Status == StatusRevoked {
			return false, nil
		}
		d.Keys[i].Status = StatusRevoked
		d.Keys[i].Revoked = now
		return true, nil
	})
}

// Rotate replaces a key with a new one of the same name, scopes, rate and
// lifetime, and returns the new key's plaintext. The old key keeps working
// for overlap (but no longer than it would have anyway), so clients can move
// over without an outage; overlap zero or less revokes it at once.
func (r *Registry) Rotate(id string, overlap time.Duration) (string, *Key, error) {
	var plaintext string
	var k Key
	err := r.update(func(d *fileData, now time.Time) (bool, error) {
		i := slices.IndexFunc(d.Keys, func(rec record) bool { return rec.ID == id })
		if i < 0 {
			return false, fmt.Errorf("rotating %s: %w", id, ErrNotFound)
		}
		old := &d.Keys[i].Key
		switch {
		case old.Status == StatusRevoked:
			return false, fmt.Errorf("rotating %s: the key is revoked; create a new one with keys create", id)
		case old.Expired(now):
			return false, fmt.Errorf("rotating %s: the key has expired; create a new one with keys create", id)
		}
		newID, secret := r.freshMaterial(d)
		k = Key{ID: newID, Name: old.Name, Scopes: slices.Clone(old.Scopes), Status: StatusActive, Rate: old.Rate, Created: now}
		if !old.Expires.IsZero() {
			k.Expires = now.Add(old.Expires.Sub(old.Created))
		}
		old.RotatedTo = newID
		if overlap <= 0 {
			old.Status = StatusRevoked
			old.Revoked = now
		} else if end := now.Add(overlap); old.Expires.IsZero() || end.Before(old.Expires) {
			old.Expires = end
		}
		h := hashSecret(secret)
		d.Keys = append(d.Keys, record{Key: k, SHA256: hex.EncodeToString(h[:])})
		plaintext = format(newID, secret)
		return true, nil
	})
	if err != nil {
		return "", nil, err
	}
	return plaintext, &k, nil
}

// Flush writes the last-used times this process has seen into the file. A
// server calls it now and then (once a minute) rather than on every request,
// so that use does not turn into disk writes. It writes nothing when no time
// advanced.
func (r *Registry) Flush() error {
	return r.update(func(*fileData, time.Time) (bool, error) { return false, nil })
}

// update is the one way the file is written: under the process mutex and
// the file lock, it reads the current file (another process may have changed
// it since our snapshot), merges last-use times, applies f, writes the result
// atomically, and publishes it as the new snapshot.
func (r *Registry) update(f func(d *fileData, now time.Time) (changed bool, err error)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.create {
		if err := os.MkdirAll(filepath.Dir(r.path), 0o700); err != nil {
			return fmt.Errorf("creating key registry directory: %w", err)
		}
	}
	unlock, err := lockFile(r.path)
	if err != nil {
		return err
	}
	defer unlock()
	d, fi, err := readFile(r.path)
	switch {
	case isNotExist(err) && r.create:
		d = &fileData{Version: fileVersion}
	case isNotExist(err):
		return fmt.Errorf("opening key registry: %w", err)
	case err != nil:
		return err
	}
	merged := r.mergeUsed(d)
	changed, err := f(d, r.now().UTC().Truncate(time.Second))
	if err != nil {
		return err
	}
	if merged || changed {
		if fi, err = writeFile(r.path, d); err != nil {
			return err
		}
	}
	if fi != nil || r.snap.Load().fi != nil {
		r.badStat = nil
		r.snap.Store(r.build(d, fi))
	}
	return nil
}

// mergeUsed moves this process's last-use times into d where they are newer,
// and reports whether any was. It must be called with r.mu held.
func (r *Registry) mergeUsed(d *fileData) bool {
	changed := false
	for i := range d.Keys {
		u := r.used[d.Keys[i].ID]
		if u == nil {
			continue
		}
		if sec := u.Load(); sec != 0 && sec > d.Keys[i].LastUsed.Unix() {
			d.Keys[i].LastUsed = time.Unix(sec, 0).UTC()
			changed = true
		}
	}
	return changed
}
