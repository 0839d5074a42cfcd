package detect

import (
	"bytes"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system time. On a shared machine the
// wall clock counts time other processes ran; CPU time does not, so the
// benchmarks also report cpu-MB/s (run them with -cpu 1).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU runs f under b.Loop and reports MB per CPU second.
func reportCPU(b *testing.B, n int, f func()) {
	b.SetBytes(int64(n))
	start := cpuTime()
	for b.Loop() {
		f()
	}
	if sec := (cpuTime() - start).Seconds(); sec > 0 {
		b.ReportMetric(float64(n)*float64(b.N)/1e6/sec, "cpu-MB/s")
	}
}

// cleanMiB is about 1 MiB of GitHub-style issue JSON without a secret.
func cleanMiB() []byte {
	one := issuesJSON(30)
	var b bytes.Buffer
	b.WriteByte('[')
	for b.Len() < 1<<20 {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.Write(one)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// plantedMiB is cleanMiB with one fake secret of every kind every 64 KiB.
func plantedMiB() []byte {
	clean := cleanMiB()
	fk := fakes(21, 1)
	var b bytes.Buffer
	for i := 0; i < len(clean); i += 64 << 10 {
		b.Write(clean[i:min(len(clean), i+64<<10)])
		for _, f := range fk {
			b.WriteString(" " + f.text + " ")
		}
	}
	return b.Bytes()
}

// BenchmarkRedact measures every default rule and field name over 1 MiB
// of JSON, clean and with planted secrets. scripts/bench-detect.sh runs it
// beside gitleaks' detector on the same input.
func BenchmarkRedact(b *testing.B) {
	d := mustNew(b, nil)
	for _, bc := range []struct {
		name string
		data []byte
	}{{"clean-1MiB", cleanMiB()}, {"planted-1MiB", plantedMiB()}} {
		b.Run(bc.name, func(b *testing.B) {
			reportCPU(b, len(bc.data), func() { d.Redact(bc.data) })
		})
	}
}

// BenchmarkScan is the prefilter alone, without verification.
func BenchmarkScan(b *testing.B) {
	d := mustNew(b, nil)
	data := cleanMiB()
	var buf []hit
	reportCPU(b, len(data), func() { buf = d.scanner().find(data, buf[:0]) })
}

// BenchmarkNew is what config.Load pays on every start to validate the
// detect block (New alone), beside New and the first Redact, which builds
// the anchor scanner.
func BenchmarkNew(b *testing.B) {
	b.Run("New", func(b *testing.B) {
		for b.Loop() {
			mustNew(b, nil)
		}
	})
	b.Run("New+first-Redact", func(b *testing.B) {
		for b.Loop() {
			mustNew(b, nil).Redact([]byte("{}"))
		}
	})
}
