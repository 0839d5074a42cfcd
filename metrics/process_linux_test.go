package metrics

import (
	"strings"
	"testing"
)

// TestParseStat: the command name in /proc/self/stat may hold spaces and
// parentheses; fields are counted from the last ')'.
func TestParseStat(t *testing.T) {
	tail := " S 1 2 3 4 5 6 7 8 9 10 150 50 0 0 20 0 9 0 4242 1600000000 2200 18446744073709551615\n"
	tests := []struct {
		name    string
		in      string
		want    procStat
		wantErr bool
	}{
		{"plain", "123 (keyveil)" + tail, procStat{utime: 150, stime: 50, starttime: 4242, vsize: 1600000000, rss: 2200}, false},
		{"name with ) ( and spaces", "123 (a) (b c)" + tail, procStat{utime: 150, stime: 50, starttime: 4242, vsize: 1600000000, rss: 2200}, false},
		{"truncated", "123 (keyveil) S 1 2 3", procStat{}, true},
		{"no name", "garbage", procStat{}, true},
		{"not a number", "123 (k) S 1 2 3 4 5 6 7 8 9 10 x 50 0 0 20 0 9 0 4242 1 2 3\n", procStat{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStat([]byte(tc.in))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseStat(%q) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestParseNetstat: InOctets and OutOctets come from the second IpExt
// line, by the names on the first.
func TestParseNetstat(t *testing.T) {
	tests := []struct {
		name            string
		in              string
		wantIn, wantOut float64
		wantErr         bool
	}{
		{"linux", "TcpExt: SyncookiesSent\nTcpExt: 0\nIpExt: InNoRoutes InOctets OutOctets\nIpExt: 0 3040 371\n", 3040, 371, false},
		{"reordered", "IpExt: OutOctets X InOctets\nIpExt: 7 1 9\n", 9, 7, false},
		{"no IpExt", "TcpExt: A\nTcpExt: 1\n", 0, 0, true},
		{"not a number", "IpExt: InOctets OutOctets\nIpExt: x 1\n", 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, out, err := parseNetstat(strings.NewReader(tc.in))
			if (err != nil) != tc.wantErr || in != tc.wantIn || out != tc.wantOut {
				t.Errorf("parseNetstat = %v, %v, %v; want %v, %v, error %v", in, out, err, tc.wantIn, tc.wantOut, tc.wantErr)
			}
		})
	}
}
