package tools

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAuditorLines checks that concurrent records come out as whole JSON
// lines, one per record, never interleaved.
func TestAuditorLines(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	a := NewAuditor(&buf)
	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.Record(Record{Time: time.Unix(0, 0), Tool: "call_api", Path: fmt.Sprintf("/p/%d/%s", i, strings.Repeat("x", 500)), Outcome: outcomeOK})
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d audit lines, want %d", len(lines), n)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		var r Record
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("audit line %.80q is not one JSON record: %v", l, err)
		}
		seen[r.Path] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct records, want %d", len(seen), n)
	}
}

func TestAuditorRecord(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rec  Record
		want string
	}{
		{
			name: "utc time and omitted empties",
			rec:  Record{Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("X", -3600)), Tool: "list_services", Outcome: outcomeOK},
			want: `{"time":"2026-01-02T04:04:05.000000006Z","tool":"list_services","duration_ms":0,"response_bytes":0,"outcome":"ok"}` + "\n",
		},
		{
			name: "long error shortened",
			rec:  Record{Time: time.Unix(0, 0), Tool: "call_api", Outcome: "refused:path", Error: strings.Repeat("é", 150)},
			want: `{"time":"1970-01-01T00:00:00Z","tool":"call_api","duration_ms":0,"response_bytes":0,"outcome":"refused:path","error":"` + strings.Repeat("é", 100) + `…"}` + "\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf syncBuffer
			NewAuditor(&buf).Record(tc.rec)
			if got := buf.String(); got != tc.want {
				t.Errorf("Record(%+v) wrote\n%s\nwant\n%s", tc.rec, got, tc.want)
			}
		})
	}
}

// TestNilAuditor lets Deps.Audit stay nil.
func TestNilAuditor(t *testing.T) {
	t.Parallel()
	var a *Auditor
	a.Record(Record{Tool: "call_api"}) // must not panic
}
