package stdio_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/keyveil/keyveil/stdio"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// A malformed line is answered with a parse error and the session goes on;
// at the end of input the session ends once the ping has its answer, and
// Run returns nil.
func ExampleTransport() {
	server := mcp.NewServer(&mcp.Implementation{Name: "example", Version: "v0.0.1"}, nil)
	input := "this line is not JSON\n" +
		`{"jsonrpc":"2.0","id":1,"method":"ping"}` + "\n"
	t := &stdio.Transport{
		In:  strings.NewReader(input),
		Out: os.Stdout,
		Redact: func(p []byte) []byte {
			return []byte(strings.ReplaceAll(string(p), "sk-test-LEAKCHECK-0123456789", "[REDACTED:API_KEY]"))
		},
	}
	if err := server.Run(context.Background(), t); err != nil {
		fmt.Println("session ended:", err)
	}
	// Output:
	// {"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error: line is not valid JSON"}}
	// {"jsonrpc":"2.0","id":1,"result":{}}
}
