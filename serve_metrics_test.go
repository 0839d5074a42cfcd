package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyveil/keyveil/config"
	"github.com/keyveil/keyveil/tools"
)

// TestObserveRecordCountsDetectedKinds: the detector's counts in an audit
// record reach keyveil_redactions_total by kind, as issue 12 asks
// ("redactions by kind"), not only the held keys.
func TestObserveRecordCountsDetectedKinds(t *testing.T) {
	a := &app{cfg: &config.Config{}, client: &http.Client{}}
	m := a.newMetrics()
	a.observeRecord(tools.Record{Tool: "call_api", Service: "api", Outcome: "ok",
		Redacted: map[string]int{"github-token": 2, "sensitive-field": 1}})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	for _, want := range []string{
		`keyveil_redactions_total{kind="github-token"} 2`,
		`keyveil_redactions_total{kind="sensitive-field"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
