// Command floor is the do-nothing MCP server that keyveil's cold start is
// measured against: a Go binary that reads one line from stdin and answers
// it as an initialize reply, with no dependencies. Spawning it and reading
// its reply is what any Go server pays before doing anything of its own.
//
//	go build -o floor ./scripts/bench/floor
package main

import (
	"bufio"
	"encoding/json"
	"os"
)

func main() {
	in := bufio.NewReader(os.Stdin)
	for {
		line, err := in.ReadBytes('\n')
		if err != nil {
			return
		}
		var m struct {
			ID json.RawMessage `json:"id"`
		}
		if json.Unmarshal(line, &m) != nil || m.ID == nil {
			continue
		}
		reply := `{"jsonrpc":"2.0","id":` + string(m.ID) + `,"result":{"protocolVersion":"2025-11-25","capabilities":{},"serverInfo":{"name":"floor","version":"0"}}}` + "\n"
		if _, err := os.Stdout.WriteString(reply); err != nil {
			return
		}
	}
}
