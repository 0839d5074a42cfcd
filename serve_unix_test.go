//go:build unix

package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/keyveil/keyveil/credentials"
)

// TestAuditLogNotRegularKeepsMode checks that --audit-log leaves the mode
// of something that is not a regular file alone: keyveil run as root with
// --audit-log /dev/null used to chmod /dev/null to 0600. A FIFO stands in
// for the device, so that a regression cannot damage the machine.
func TestAuditLogNotRegularKeepsMode(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "audit.fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// A reader, so that opening the FIFO for writing does not block.
	r, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	before, err := os.Stat(fifo)
	if err != nil {
		t.Fatal(err)
	}
	a := &app{opts: &options{AuditLog: fifo}, red: credentials.NewRedactor()}
	_, closeAudit, err := a.openAudit()
	if err != nil {
		t.Fatalf("openAudit(FIFO): %v", err)
	}
	defer closeAudit()
	after, err := os.Stat(fifo)
	if err != nil {
		t.Fatal(err)
	}
	if after.Mode() != before.Mode() {
		t.Errorf("openAudit changed the FIFO's mode from %v to %v", before.Mode(), after.Mode())
	}
}
