package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// printTLS lists the tls block of each service that has one: the CA file
// added to the system roots, the client certificate's subject and expiry
// (public), and the key's variable, source and fingerprint, never its
// value. Nothing is printed when no service has a tls block.
func printTLS(out io.Writer, a *app, now time.Time) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	header := false
	for _, s := range a.cfg.Services {
		info, ok := a.set.TLS(s.Name)
		if !ok {
			continue
		}
		if !header {
			printf(out, "\nTLS (tls: blocks; a CA file adds to the system roots, a client certificate goes to its service's origin only):\n")
			printf(tw, "  SERVICE\tCA FILE\tCLIENT CERTIFICATE\tEXPIRES\tKEY VARIABLE\tSOURCE\tFINGERPRINT\n")
			header = true
		}
		ca := info.CAFile
		if ca == "" {
			ca = "- (system roots)"
		}
		cert, expires, keyVar, src, fp := "-", "-", "-", "-", "-"
		if info.CertVar != "" {
			cert = fmt.Sprintf("CN=%s (%s, %s)", printable(info.Subject), info.CertVar, info.CertSource)
			expires = info.NotAfter.UTC().Format(time.DateOnly)
			if now.After(info.NotAfter) {
				expires += " EXPIRED"
			}
			keyVar, src, fp = info.KeyVar, string(info.KeySource), info.KeyFingerprint
			if info.KeyPath != "" {
				src += " " + info.KeyPath
			}
		}
		printf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, ca, cert, expires, keyVar, src, fp)
	}
	_ = tw.Flush()
}

// printable replaces control and non-ASCII characters of a certificate's
// name, which the operator's CA chose, so that it cannot move the
// terminal's cursor or break the table.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}
