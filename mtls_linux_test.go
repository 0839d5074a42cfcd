package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestCheckUnreadableCAFile runs keyveil check, as an unprivileged user
// (root reads any file), on a services file whose tls.ca_file exists but
// cannot be read: check must stop at the ca_file line and say why.
func TestCheckUnreadableCAFile(t *testing.T) {
	t.Parallel()
	dir, err := os.MkdirTemp("", "keyveil-cafile")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	kv := filepath.Join(dir, "keyveil")
	if err := copyFile(binPath, kv); err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile("examples/internal-mtls/test-certs/ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca, 0o000); err != nil {
		t.Fatal(err)
	}
	services := filepath.Join(dir, "services.yaml")
	if err := os.WriteFile(services, []byte("services:\n  internal:\n    base_url: https://billing.corp.example\n    auth: {type: none}\n    tls: {ca_file: ca.pem}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(kv, "check", "--config", services)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("keyveil check with an unreadable ca_file succeeded:\n%s", out)
	}
	want := services + ":5: service \"internal\": tls ca_file: " + filepath.Join(dir, "ca.pem") + " cannot be read: permission denied"
	if !strings.Contains(string(out), want) {
		t.Errorf("keyveil check output:\n%s\nwant %q", out, want)
	}
}
