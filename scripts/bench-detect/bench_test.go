// Package benchdetect measures keyveil's detector beside gitleaks' Go
// detector on the same input. It is its own module so that keyveil's
// go.mod never depends on gitleaks; scripts/bench-detect.sh runs it.
package benchdetect

import (
	"bytes"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/keyveil/keyveil/detect"
	gitleaks "github.com/zricethezav/gitleaks/v8/detect"
)

// input is about 1 MiB of GitHub-style issue JSON (the 30-issue list in
// detect/testdata, repeated), clean or with planted fake secrets.
func input(b *testing.B, planted bool) []byte {
	one, err := os.ReadFile("../../detect/testdata/issues-30.json")
	if err != nil {
		b.Fatal(err)
	}
	plants := []string{
		"AKIAQWERTYUIOPASDFGH", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
		"glpat-Xy9_aB3cD4eF5gH6iJ7k", "shpat_0123456789abcdef0123456789abcdef",
		"dop_v1_" + string(bytes.Repeat([]byte("0123456789abcdef"), 4)),
	}
	var buf bytes.Buffer
	buf.WriteByte('[')
	for buf.Len() < 1<<20 {
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
		buf.Write(bytes.TrimSpace(one))
		if planted {
			for _, p := range plants {
				buf.WriteString(`,{"value":"` + p + `"}`)
			}
		}
	}
	buf.WriteByte(']')
	return buf.Bytes()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// run reports wall-clock MB/s (SetBytes) and MB per CPU second, which a
// busy shared machine skews less; run with -cpu 1.
func run(b *testing.B, data []byte, f func([]byte) int) {
	b.SetBytes(int64(len(data)))
	found := 0
	start := cpuTime()
	for b.Loop() {
		found = f(data)
	}
	if sec := (cpuTime() - start).Seconds(); sec > 0 {
		b.ReportMetric(float64(len(data))*float64(b.N)/1e6/sec, "cpu-MB/s")
	}
	b.ReportMetric(float64(found), "findings")
}

func BenchmarkDetect(b *testing.B) {
	kv, err := detect.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	gl, err := gitleaks.NewDetectorDefaultConfig()
	if err != nil {
		b.Fatal(err)
	}
	for _, planted := range []bool{false, true} {
		name := "clean-1MiB"
		if planted {
			name = "planted-1MiB"
		}
		data := input(b, planted)
		b.Run(name+"/keyveil", func(b *testing.B) {
			run(b, data, func(d []byte) int {
				_, n := kv.Redact(d)
				total := 0
				for _, c := range n {
					total += c
				}
				return total
			})
		})
		b.Run(name+"/gitleaks", func(b *testing.B) {
			run(b, data, func(d []byte) int { return len(gl.DetectBytes(d)) })
		})
	}
}
