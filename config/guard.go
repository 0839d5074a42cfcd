package config

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Guardrail settings: rate limits, idempotency and confirmation. The tools
// package enforces them; this file parses and checks them, so that a typo
// stops keyveil at start-up instead of silently leaving a write tool
// unguarded.

// Defaults of the guardrail settings.
const (
	// DefaultIdempotencyHeader carries the idempotency key of every request
	// that is not GET or HEAD.
	DefaultIdempotencyHeader = "Idempotency-Key"
	// DefaultIdempotencyWindow is how long an identical call is answered
	// with the first call's result instead of being sent again.
	DefaultIdempotencyWindow = 10 * time.Minute
	// MaxIdempotencyWindow bounds idempotency_window: results are held in
	// memory, and a replay older than a day is more surprise than help.
	MaxIdempotencyWindow = 24 * time.Hour
)

// DefaultConfirmMethods are the methods call_api asks the user about when
// a service does not say (confirm_methods).
var DefaultConfirmMethods = []string{"DELETE"}

// Limit is a token-bucket rate limit: on average Events requests per Per,
// and up to Burst at once. The zero Limit means no limit.
type Limit struct {
	Events int
	Per    time.Duration
	Burst  int
}

// IsZero reports whether l sets no limit.
func (l Limit) IsZero() bool { return l.Events == 0 }

// PerSecond returns the refill rate in requests per second; 0 for no limit.
func (l Limit) PerSecond() float64 {
	if l.IsZero() {
		return 0
	}
	return float64(l.Events) / l.Per.Seconds()
}

// String renders the limit as an operator writes it, like "10/s burst 20".
func (l Limit) String() string {
	if l.IsZero() {
		return "none"
	}
	return fmt.Sprintf("%s burst %d", FormatRate(l.Events, l.Per), l.Burst)
}

var rateUnits = []struct {
	per   time.Duration
	names []string
}{
	{time.Second, []string{"s", "sec", "second"}},
	{time.Minute, []string{"min", "m", "minute"}},
	{time.Hour, []string{"h", "hr", "hour"}},
	{24 * time.Hour, []string{"d", "day"}},
}

const rateSyntax = "write a count per period, like 10/s, 600/min, 1000/h or 3/10s"

// ParseRate parses a rate: a positive count, a slash, and a period that is
// s, min, h, day (and their spellings in rateUnits) or a Go duration, like
// "10/s", "600/min" or "3/10s". It is the one rate syntax of keyveil, shared
// by the services file and `keyveil keys --rate`. Errors do not quote s.
func ParseRate(s string) (events int, per time.Duration, err error) {
	n, unit, ok := strings.Cut(s, "/")
	events, err = strconv.Atoi(strings.TrimSpace(n))
	if !ok || err != nil || events <= 0 {
		return 0, 0, errors.New("rate is not a rate; " + rateSyntax)
	}
	unit = strings.ToLower(strings.TrimSpace(unit))
	for _, u := range rateUnits {
		if slices.Contains(u.names, unit) {
			return events, u.per, nil
		}
	}
	per, err = time.ParseDuration(unit)
	if err != nil || per <= 0 {
		return 0, 0, errors.New("rate has an unknown period; " + rateSyntax)
	}
	return events, per, nil
}

// FormatRate writes a rate the way ParseRate reads it, with the shortest
// unit name, like "60/min".
func FormatRate(events int, per time.Duration) string {
	for _, u := range rateUnits {
		if u.per == per {
			return strconv.Itoa(events) + "/" + u.names[0]
		}
	}
	return strconv.Itoa(events) + "/" + per.String()
}

// parseLimit parses rate ("10/s", "600/min", "1000/h", "5000/day", or
// "3/10s" with a Go duration after the slash) and burst (0: the rate per
// second rounded up, at least 1). The same syntax as keyveil keys' --rate.
// Errors do not quote the value.
func parseLimit(rate string, burst int) (Limit, error) {
	if burst < 0 {
		return Limit{}, errors.New("burst must be a positive whole number, like 20")
	}
	if rate == "" {
		if burst != 0 {
			return Limit{}, errors.New("burst needs rate: set rate too, like rate: 10/s")
		}
		return Limit{}, nil
	}
	events, per, err := ParseRate(rate)
	if err != nil {
		return Limit{}, err
	}
	l := Limit{Events: events, Per: per, Burst: burst}
	if l.Burst == 0 {
		l.Burst = max(1, int(math.Ceil(l.PerSecond())))
	}
	return l, nil
}

// validateGuards checks and fills the service's guardrail settings.
func (s *Service) validateGuards() []error {
	var errs []error
	add := func(field string, err error) {
		errs = append(errs, fmt.Errorf("service %q: %w", s.Name, &fieldError{field: field, err: err}))
	}
	s.limit = checkLimit(s.Rate, s.Burst, add)
	if s.IdempotencyHeader == "" {
		s.IdempotencyHeader = DefaultIdempotencyHeader
	}
	switch h := strings.ToLower(s.IdempotencyHeader); {
	case !isToken(s.IdempotencyHeader):
		add("idempotency_header", errors.New("idempotency_header must be a header name, like Idempotency-Key"))
	case h == "authorization" || h == "proxy-authorization" || h == "cookie" || h == "host" ||
		s.Auth.carriesHeader(s.IdempotencyHeader):
		add("idempotency_header", fmt.Errorf("idempotency_header cannot be %s, which keyveil or auth sets; use Idempotency-Key or the API's own name", s.IdempotencyHeader))
	}
	if err := checkWindow(s.IdempotencyWindow); err != nil {
		add("idempotency_window", err)
	}
	if s.IdempotencyWindow == 0 {
		s.IdempotencyWindow = DefaultIdempotencyWindow
	}
	if s.ConfirmMethods == nil {
		s.ConfirmMethods = slices.Clone(DefaultConfirmMethods)
	}
	for i, m := range s.ConfirmMethods {
		s.ConfirmMethods[i] = strings.ToUpper(strings.TrimSpace(m))
		if !isToken(s.ConfirmMethods[i]) {
			add("confirm_methods", errors.New("confirm_methods must list HTTP methods, like [DELETE, POST]"))
		}
	}
	if err := checkFallback(s.ConfirmFallback); err != nil {
		add("confirm_fallback", err)
	}
	return errs
}

// validateGuards checks and fills the tool's guardrail settings.
func (t *Tool) validateGuards(add func(field string, err error)) {
	t.limit = checkLimit(t.Rate, t.Burst, add)
	if err := checkWindow(t.IdempotencyWindow); err != nil {
		add("idempotency_window", err)
	}
	if err := checkFallback(t.ConfirmFallback); err != nil {
		add("confirm_fallback", err)
	}
}

// checkLimit parses rate and burst with parseLimit and reports a problem
// against the key it is about, so a file error points at that key's line.
func checkLimit(rate string, burst int, add func(field string, err error)) Limit {
	l, err := parseLimit(rate, burst)
	if err != nil {
		field := "rate"
		if strings.HasPrefix(err.Error(), "burst") {
			field = "burst"
		}
		add(field, err)
	}
	return l
}

func checkWindow(d time.Duration) error {
	if d < 0 || d > MaxIdempotencyWindow {
		return fmt.Errorf("idempotency_window must be a duration between 1s and %s, like 10m", "24h")
	}
	return nil
}

func checkFallback(f string) error {
	switch f {
	case "", ConfirmFallbackRefuse, ConfirmFallbackAllow:
		return nil
	}
	return fmt.Errorf("confirm_fallback must be %s or %s", ConfirmFallbackRefuse, ConfirmFallbackAllow)
}

// Limit returns the service's parsed rate limit (zero: none). It is valid
// after the Config that holds the service has been validated.
func (s Service) Limit() Limit { return s.limit }

// IdempotencyOn reports whether requests to the service other than GET and
// HEAD carry an idempotency key and identical calls are replayed.
func (s Service) IdempotencyOn() bool { return s.Idempotency == nil || *s.Idempotency }

// Confirms reports whether call_api asks the user before sending method to
// the service.
func (s Service) Confirms(method string) bool { return slices.Contains(s.ConfirmMethods, method) }

// Limit returns the tool's own parsed rate limit (zero: none beyond its
// service's). It is valid after validation.
func (t Tool) Limit() Limit { return t.limit }
