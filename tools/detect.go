package tools

import (
	"sync"

	"github.com/keyveil/keyveil/config"
	"github.com/keyveil/keyveil/detect"
)

// detectors holds one secret detector per service, built on the first
// result the service returns: most sessions call few of the services a
// file lists, and building one costs more than a call.
type detectors struct {
	mu    sync.Mutex
	built map[string]*detect.Detector // service name -> detector; nil: off
}

func newDetectors() *detectors {
	return &detectors{built: map[string]*detect.Detector{}}
}

// detector returns svc's detector, or nil when its detection is off.
func (d Deps) detector(svc config.Service) *detect.Detector {
	ds := d.detectors
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if det, ok := ds.built[svc.Name]; ok {
		return det
	}
	var det *detect.Detector
	if o := svc.Detect.Options(); o != nil {
		var err error
		if det, err = detect.New(o); err != nil {
			// config.Load built this detector once already; fall back
			// to the defaults rather than to nothing.
			d.Logger.Warn("detect: service options", "service", svc.Name, "cause", err)
			det, _ = detect.New(nil)
		}
	}
	ds.built[svc.Name] = det
	return det
}

// upstreamHooks are the per-call steps 3 and 4 of readUpstream.
type upstreamHooks struct {
	// detect redacts secrets keyveil does not hold; nil: none.
	detect func([]byte) []byte
	// jq shapes a JSON body, after detect; nil: none.
	jq *jqFilter
}

// detectHook returns the detection step for svc, which adds the counts by
// kind to rec (never a value), or nil when svc's detection is off.
func (d Deps) detectHook(svc config.Service, rec *Record) func([]byte) []byte {
	det := d.detector(svc)
	if det == nil {
		return nil
	}
	return func(data []byte) []byte {
		out, counts := det.Redact(data)
		for kind, n := range counts {
			if rec.Redacted == nil {
				rec.Redacted = map[string]int{}
			}
			rec.Redacted[kind] += n
		}
		return out
	}
}
