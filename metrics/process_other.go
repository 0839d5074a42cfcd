//go:build !linux

package metrics

// processFamilies reports nothing outside Linux: the process_* metrics
// come from /proc. keyveil's servers (serve --http, the container image)
// run on Linux; a stdio server on a desktop never serves /metrics.
func processFamilies() []constFamily { return nil }
