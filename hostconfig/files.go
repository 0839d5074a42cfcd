package hostconfig

import (
	"os"
	"path/filepath"
	"slices"
)

// File is one host configuration file keyveil knows about.
type File struct {
	// Host names the MCP host that reads the file, like "Claude Code".
	Host string
	// Path is the file's path; it may not exist.
	Path string
	// Fix says how to keep a key out of this file, completing "Fix: ".
	Fix string
	// TOML is true for TOML files (Codex); false: JSON or JSONC.
	TOML bool
}

// Dirs are the directories the known files are found from. Empty fields
// are taken from the process (see [Known]); tests set them all.
type Dirs struct {
	Home      string // the user's home directory; "": os.UserHomeDir
	Config    string // the user's configuration directory; "": os.UserConfigDir (%AppData% on Windows, ~/Library/Application Support on macOS, $XDG_CONFIG_HOME or ~/.config on Linux)
	Work      string // the directory keyveil was started in, where project files live; "": os.Getwd
	CodexHome string // Codex's home; "": $CODEX_HOME, or Home/.codex
}

// Fixes, by what the host offers.
const (
	fixKeychain = "store the key with `keyveil secrets set NAME --origin URL` and put MCP_API_KEY=keychain:NAME in its place (or point NAME_FILE at a mode-0600 file outside any project, or run keyveil under `op run`)"
	fixRotate   = "; then rotate the key, since any program running as you could read it"
)

// Known returns the host configuration files for dirs, those of every
// host on every system keyveil runs on (a path that does not exist costs
// one stat), without duplicates: with Work equal to Home, a project file
// and a user file can be the same.
func Known(dirs Dirs) []File {
	if dirs.Home == "" {
		dirs.Home, _ = os.UserHomeDir()
	}
	if dirs.Config == "" {
		dirs.Config, _ = os.UserConfigDir()
	}
	if dirs.Work == "" {
		dirs.Work, _ = os.Getwd()
	}
	if dirs.CodexHome == "" {
		dirs.CodexHome = os.Getenv("CODEX_HOME")
	}
	if dirs.CodexHome == "" && dirs.Home != "" {
		dirs.CodexHome = filepath.Join(dirs.Home, ".codex")
	}
	claudeCode := "remove the server and add it again with `claude mcp add NAME -e MCP_API_KEY=keychain:NAME -- keyveil` after `keyveil secrets set NAME --origin URL` (or with `-- keyveil --env-file FILE`, a mode-0600 file outside any project)"
	vscode := "replace the value with \"${input:ID}\" and declare the input with \"password\": true, so VS Code keeps the key in its secret storage; or " + fixKeychain
	var out []File
	add := func(host, base string, fix string, toml bool, elem ...string) {
		if base == "" {
			return // that directory is unknown here
		}
		p := filepath.Join(append([]string{base}, elem...)...)
		if slices.ContainsFunc(out, func(f File) bool { return f.Path == p }) {
			return
		}
		out = append(out, File{Host: host, Path: p, Fix: fix + fixRotate, TOML: toml})
	}
	add("Claude Desktop", dirs.Config, "install keyveil as a bundle (.mcpb), whose key Claude Desktop keeps in the OS keychain, or "+fixKeychain, false, "Claude", "claude_desktop_config.json")
	add("Claude Code", dirs.Home, claudeCode, false, ".claude.json")
	add("Claude Code", dirs.Work, claudeCode, false, ".mcp.json")
	add("Cursor", dirs.Home, fixKeychain, false, ".cursor", "mcp.json")
	add("Cursor", dirs.Work, fixKeychain, false, ".cursor", "mcp.json")
	add("VS Code", dirs.Work, vscode, false, ".vscode", "mcp.json")
	add("VS Code", dirs.Config, vscode, false, "Code", "User", "mcp.json")
	add("Windsurf", dirs.Home, fixKeychain, false, ".codeium", "windsurf", "mcp_config.json")
	add("Gemini CLI", dirs.Home, fixKeychain, false, ".gemini", "settings.json")
	add("Codex", dirs.CodexHome, fixKeychain, true, "config.toml")
	return out
}
