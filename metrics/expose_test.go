package metrics

import (
	"compress/gzip"
	"io"
	"math"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// parse reads an exposition with Prometheus's own text parser (a test-only
// import: it does not link into keyveil).
func parse(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("Prometheus's parser refuses the exposition: %v\n%s", err, text)
	}
	return fams
}

// TestExpositionFamilies: every family the Prometheus client library
// wrote before keyveil wrote the format itself is still there, with the
// same type, and Prometheus's parser reads the whole scrape. The list is
// client_golang 1.25's registry with keyveil's collectors, the Go
// collector and the process collector on Linux.
func TestExpositionFamilies(t *testing.T) {
	m := New(&Options{Tools: []string{"call_api"}, Services: []string{"crm"}})
	m.ToolCall("call_api", "crm", "refused:rate")
	m.Access("revoked")
	m.Redacted("held_secret", 1)
	m.StateError("ping")
	m.Upstream("crm", 200, time.Millisecond)
	fams := parse(t, scrape(t, m))

	want := map[string]dto.MetricType{
		"keyveil_tool_calls_total":                  dto.MetricType_COUNTER,
		"keyveil_upstream_request_duration_seconds": dto.MetricType_HISTOGRAM,
		"keyveil_guard_refusals_total":              dto.MetricType_COUNTER,
		"keyveil_auth_failures_total":               dto.MetricType_COUNTER,
		"keyveil_redactions_total":                  dto.MetricType_COUNTER,
		"keyveil_state_errors_total":                dto.MetricType_COUNTER,
		"go_gc_duration_seconds":                    dto.MetricType_SUMMARY,
		"go_gc_gogc_percent":                        dto.MetricType_GAUGE,
		"go_gc_gomemlimit_bytes":                    dto.MetricType_GAUGE,
		"go_goroutines":                             dto.MetricType_GAUGE,
		"go_info":                                   dto.MetricType_GAUGE,
		"go_memstats_alloc_bytes":                   dto.MetricType_GAUGE,
		"go_memstats_alloc_bytes_total":             dto.MetricType_COUNTER,
		"go_memstats_buck_hash_sys_bytes":           dto.MetricType_GAUGE,
		"go_memstats_frees_total":                   dto.MetricType_COUNTER,
		"go_memstats_gc_sys_bytes":                  dto.MetricType_GAUGE,
		"go_memstats_heap_alloc_bytes":              dto.MetricType_GAUGE,
		"go_memstats_heap_idle_bytes":               dto.MetricType_GAUGE,
		"go_memstats_heap_inuse_bytes":              dto.MetricType_GAUGE,
		"go_memstats_heap_objects":                  dto.MetricType_GAUGE,
		"go_memstats_heap_released_bytes":           dto.MetricType_GAUGE,
		"go_memstats_heap_sys_bytes":                dto.MetricType_GAUGE,
		"go_memstats_last_gc_time_seconds":          dto.MetricType_GAUGE,
		"go_memstats_mallocs_total":                 dto.MetricType_COUNTER,
		"go_memstats_mcache_inuse_bytes":            dto.MetricType_GAUGE,
		"go_memstats_mcache_sys_bytes":              dto.MetricType_GAUGE,
		"go_memstats_mspan_inuse_bytes":             dto.MetricType_GAUGE,
		"go_memstats_mspan_sys_bytes":               dto.MetricType_GAUGE,
		"go_memstats_next_gc_bytes":                 dto.MetricType_GAUGE,
		"go_memstats_other_sys_bytes":               dto.MetricType_GAUGE,
		"go_memstats_stack_inuse_bytes":             dto.MetricType_GAUGE,
		"go_memstats_stack_sys_bytes":               dto.MetricType_GAUGE,
		"go_memstats_sys_bytes":                     dto.MetricType_GAUGE,
		"go_sched_gomaxprocs_threads":               dto.MetricType_GAUGE,
		"go_threads":                                dto.MetricType_GAUGE,
		"process_cpu_seconds_total":                 dto.MetricType_COUNTER,
		"process_max_fds":                           dto.MetricType_GAUGE,
		"process_network_receive_bytes_total":       dto.MetricType_COUNTER,
		"process_network_transmit_bytes_total":      dto.MetricType_COUNTER,
		"process_open_fds":                          dto.MetricType_GAUGE,
		"process_resident_memory_bytes":             dto.MetricType_GAUGE,
		"process_start_time_seconds":                dto.MetricType_GAUGE,
		"process_virtual_memory_bytes":              dto.MetricType_GAUGE,
		"process_virtual_memory_max_bytes":          dto.MetricType_GAUGE,
	}
	if runtime.GOOS != "linux" {
		// The process_* families come from /proc.
		for name := range want {
			if strings.HasPrefix(name, "process_") {
				delete(want, name)
			}
		}
	}
	for name, typ := range want {
		f := fams[name]
		if f == nil {
			t.Errorf("scrape lacks %s", name)
			continue
		}
		if f.GetType() != typ {
			t.Errorf("%s has type %v, want %v", name, f.GetType(), typ)
		}
		if f.GetHelp() == "" {
			t.Errorf("%s has no HELP", name)
		}
	}
	for name := range fams {
		if _, ok := want[name]; !ok {
			t.Errorf("scrape has %s, which the client library did not write", name)
		}
	}
	if v := fams["go_info"].GetMetric()[0].GetLabel()[0]; v.GetName() != "version" || !strings.HasPrefix(v.GetValue(), "go") {
		t.Errorf("go_info label = %s=%q, want version=go…", v.GetName(), v.GetValue())
	}
	if runtime.GOOS != "linux" {
		return
	}
	if rss := fams["process_resident_memory_bytes"].GetMetric()[0].GetGauge().GetValue(); rss < 1<<20 {
		t.Errorf("process_resident_memory_bytes = %v, want at least 1 MiB", rss)
	}
	start := fams["process_start_time_seconds"].GetMetric()[0].GetGauge().GetValue()
	if now := float64(time.Now().Unix()); start > now+1 || start < now-24*3600 {
		t.Errorf("process_start_time_seconds = %v, want within the last day before %v", start, now)
	}
}

// TestExpositionEmptyFamilies: a counter nobody has touched is left out,
// as the client library left it out, rather than written without samples.
func TestExpositionEmptyFamilies(t *testing.T) {
	out := scrape(t, New(nil))
	for _, name := range []string{"keyveil_tool_calls_total", "keyveil_guard_refusals_total", "keyveil_upstream_request_duration_seconds"} {
		if strings.Contains(out, name) {
			t.Errorf("an unused %s is in the scrape", name)
		}
	}
	parse(t, out)
}

// TestHistogramBuckets: buckets are cumulative, a bound is inclusive (le),
// and what no bound holds is only in +Inf; sum and count agree.
func TestHistogramBuckets(t *testing.T) {
	m := New(&Options{Services: []string{"crm"}})
	for _, d := range []time.Duration{5 * time.Millisecond, 6 * time.Millisecond, 2 * time.Second, time.Minute} {
		m.Upstream("crm", 200, d)
	}
	h := parse(t, scrape(t, m))["keyveil_upstream_request_duration_seconds"].GetMetric()[0].GetHistogram()
	tests := []struct {
		le   float64
		want uint64
	}{
		{0.005, 1}, {0.01, 2}, {1, 2}, {2.5, 3}, {30, 3},
	}
	for _, tc := range tests {
		i := slices.IndexFunc(h.GetBucket(), func(b *dto.Bucket) bool { return b.GetUpperBound() == tc.le })
		if i < 0 {
			t.Errorf("no bucket le=%v", tc.le)
			continue
		}
		if got := h.GetBucket()[i].GetCumulativeCount(); got != tc.want {
			t.Errorf("bucket le=%v = %d, want %d", tc.le, got, tc.want)
		}
	}
	if h.GetSampleCount() != 4 {
		t.Errorf("count = %d, want 4", h.GetSampleCount())
	}
	if want := 0.005 + 0.006 + 2 + 60; math.Abs(h.GetSampleSum()-want) > 1e-9 {
		t.Errorf("sum = %v, want %v", h.GetSampleSum(), want)
	}
}

// TestSampleEscaping: a label value or help text cannot break out of its
// line: backslash, double quote and line feed are escaped as the format
// asks, and floats read back exactly.
func TestSampleEscaping(t *testing.T) {
	tests := []struct {
		name  string
		pairs [][2]string
		value float64
		want  string
	}{
		{"no labels", nil, 2, "m 2\n"},
		{"quote", [][2]string{{"k", `a"b`}}, 1, `m{k="a\"b"} 1` + "\n"},
		{"backslash", [][2]string{{"k", `a\b`}}, 1, `m{k="a\\b"} 1` + "\n"},
		{"forged sample", [][2]string{{"k", "x\"} 1\nm{k=\"y"}}, 1, `m{k="x\"} 1\nm{k=\"y"} 1` + "\n"},
		{"two labels", [][2]string{{"a", "1"}, {"b", "2"}}, 0.25, `m{a="1",b="2"} 0.25` + "\n"},
		{"large", nil, math.MaxInt64, "m 9.223372036854776e+18\n"},
		{"infinite", nil, math.Inf(1), "m +Inf\n"},
		{"not a number", nil, math.NaN(), "m NaN\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(sample(nil, "m", tc.pairs, "", "", tc.value)); got != tc.want {
				t.Errorf("sample(%q) = %q, want %q", tc.pairs, got, tc.want)
			}
		})
	}
	if got, want := string(header(nil, "m", "a\\b\nc \"d\"", typeGauge)), "# HELP m a\\\\b\\nc \"d\"\n# TYPE m gauge\n"; got != want {
		t.Errorf("header = %q, want %q", got, want)
	}
	// And Prometheus reads the forged value back as one label value.
	v := newCounterVec("m", "h", "k")
	v.add(1, "x\"} 1\nm{k=\"y")
	got := parse(t, string(v.write(nil)))["m"].GetMetric()
	if len(got) != 1 || got[0].GetLabel()[0].GetValue() != "x\"} 1\nm{k=\"y" {
		t.Errorf("parsed %v, want one sample with the value as written", got)
	}
}

// TestHandlerCompression: gzip when the client offers it (Prometheus does
// by default), plain text otherwise, and the same exposition either way.
func TestHandlerCompression(t *testing.T) {
	m := New(&Options{Services: []string{"crm"}})
	m.StateError("rate")
	tests := []struct {
		acceptEncoding string
		gzipped        bool
	}{
		{"", false},
		{"gzip", true},
		{"deflate, GZIP;q=0.5", true},
		{"gzip;q=0", false},
		{"identity", false},
	}
	for _, tc := range tests {
		t.Run(tc.acceptEncoding, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r := httptest.NewRequest("GET", "/metrics", nil)
			r.Header.Set("Accept-Encoding", tc.acceptEncoding)
			m.Handler().ServeHTTP(rec, r)
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
				t.Errorf("Content-Type = %q", ct)
			}
			var body io.Reader = rec.Body
			if got := rec.Header().Get("Content-Encoding") == "gzip"; got != tc.gzipped {
				t.Fatalf("Accept-Encoding %q: gzipped = %v, want %v", tc.acceptEncoding, got, tc.gzipped)
			}
			if tc.gzipped {
				z, err := gzip.NewReader(rec.Body)
				if err != nil {
					t.Fatal(err)
				}
				body = z
			}
			b, err := io.ReadAll(body)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), `keyveil_state_errors_total{op="rate"} 1`+"\n") {
				t.Errorf("body lacks the counter:\n%s", b)
			}
		})
	}
}
