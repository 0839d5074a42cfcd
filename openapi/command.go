package openapi

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Command runs `keyveil openapi FILE [--operations LIST]`: it prints, as an
// aligned table, the tools the document would give (name, method, path,
// scope, read-only), so an operator can choose operations before writing
// them into the services file. LIST is comma-separated operationIds,
// "tag:NAME" entries or "*" (the default). Output goes to stdout, usage
// and errors to stderr; the returned error is for the exit code.
func Command(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("openapi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ops := fs.String("operations", "*", `operations to offer: comma-separated operationIds, "tag:NAME" or "*"`)
	service := fs.String("service", "api", "service name the tools would belong to")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: keyveil openapi FILE [--operations LIST] [--service NAME]\n\n")
		fs.PrintDefaults()
	}
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if file == "" && fs.NArg() > 0 {
		file = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return err
		}
	}
	if file == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("keyveil openapi needs exactly one FILE")
	}
	doc, err := Load(file)
	if err != nil {
		return err
	}
	var sel []string
	for _, s := range strings.Split(*ops, ",") {
		if s = strings.TrimSpace(s); s != "" {
			sel = append(sel, s)
		}
	}
	tools, skipped, err := doc.Tools(Options{Service: *service, Operations: sel})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: OpenAPI %s, %d operations; %d selected become tools\n\n", file, doc.Version(), doc.Operations(), len(tools))
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "NAME\tMETHOD\tPATH\tSCOPE\tREAD-ONLY\n")
	for _, t := range tools {
		scope := t.Scope
		if scope == "" {
			scope = "-"
		}
		ro := "no"
		if t.ReadOnly() {
			ro = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, t.Method, t.Path, scope, ro)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(skipped) > 0 {
		fmt.Fprintf(stdout, "\nNot offered (%d):\n", len(skipped))
		for _, s := range skipped {
			fmt.Fprintf(stdout, "  %s: %s\n", s.ID, s.Reason)
		}
	}
	fmt.Fprintf(stdout, "\nTo offer them, add to a service in the services file:\n  openapi: %s\n  operations: [%s]\n", file, strings.Join(quoteAll(sel), ", "))
	return nil
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}
