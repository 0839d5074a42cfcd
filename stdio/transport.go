package stdio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const (
	// defaultDrain is how long in-flight calls may run after input ends when
	// Transport.Drain is zero: long enough for an HTTP call with a sensible
	// timeout to come back, short enough that a host restarting keyveil does
	// not give up on it and kill it mid-audit.
	defaultDrain = 5 * time.Second

	// defaultMaxLine bounds one input line. The go-sdk allows 16 MiB; a tool
	// call carrying a large request body may exceed that, and a line over the
	// limit is answered with an error rather than ending the session.
	defaultMaxLine = 64 << 20

	// codeServerClosing is the go-sdk's jsonrpc2.ErrServerClosing code, sent
	// for calls that arrive after Stop has closed.
	codeServerClosing = -32004

	// codeRejected is the go-sdk's jsonrpc2.ErrRejected code. A Write error
	// with this code fails the one message and leaves the connection up; any
	// other Write error makes jsonrpc2 treat the connection as broken.
	codeRejected = -32005
)

// methodSubscriptionsListen is the 2026-07-28 call that stays open for the
// whole session to carry list-changed notifications; it is answered only
// when cancelled. Drain does not wait for it: there is no result to deliver,
// and the SDK cancels it once the session ends.
const methodSubscriptionsListen = "subscriptions/listen"

// withheldMessage replaces a response that redaction could not clean without
// breaking its JSON. It must stay free of anything a client sent, so that it
// cannot itself contain a secret.
const withheldMessage = "response withheld: it contained a secret that could not be removed cleanly"

// jsonSpace is the whitespace JSON allows around a value. Trimming it also
// drops the newline and a Windows carriage return.
const jsonSpace = " \t\r\n"

// errLineTooLong reports an input line longer than the transport's limit.
var errLineTooLong = errors.New("input line too long")

// Transport is an [mcp.Transport] over newline-delimited JSON on stdin and
// stdout (or In and Out), which answers malformed input instead of ending the
// session, redacts every outgoing message, and lets in-flight calls finish
// when input ends or Stop closes. See the package documentation for why.
//
// A Transport is used for one call to Connect, as every mcp.Transport is. The
// fields must not change after Connect.
//
// To end the session on a signal, close Stop; do not cancel the context given
// to mcp.Server.Run. Cancelling it makes Run close the session itself, which
// waits for in-flight calls with no bound and then returns the context's
// error rather than nil.
type Transport struct {
	// In is where messages arrive, one JSON value per line; nil: os.Stdin.
	// The transport never closes it. A read blocked on it when the session
	// ends stays blocked (no portable way interrupts a read of stdin); its
	// goroutine exits when the read returns.
	In io.Reader

	// Out is where messages go, each one whole line in one Write call; nil:
	// os.Stdout. The transport never closes it.
	Out io.Writer

	// Redact is applied to every outgoing message before it is written; nil:
	// identity. It must not modify its argument and must not hold on to the
	// slice it returns. It sees compact JSON without the trailing newline.
	Redact func([]byte) []byte

	// Drain bounds how long in-flight calls may run after input ends or Stop
	// closes before the session ends anyway; zero: 5s.
	Drain time.Duration

	// Stop, when closed, ends the session the way the end of input does:
	// in-flight calls may finish (bounded by Drain), then the session ends.
	// While draining, responses to the server's own requests and
	// notifications (such as notifications/cancelled) are still delivered,
	// and new calls are refused with a JSON-RPC error. nil: never.
	Stop <-chan struct{}

	// Logger receives malformed-input, redaction and shutdown events, with
	// methods and ids at most: never params, results, or the text of a bad
	// line. nil: discard.
	Logger *slog.Logger

	// maxLine bounds one input line in bytes, newline included; zero:
	// defaultMaxLine. Tests set it to exercise the limit cheaply.
	maxLine int
}

// Connect starts reading input and returns the connection an mcp.Server runs
// its session on. It implements [mcp.Transport]; ctx is not used.
func (t *Transport) Connect(context.Context) (mcp.Connection, error) {
	c := &conn{
		in:        t.In,
		out:       t.Out,
		redact:    t.Redact,
		drain:     t.Drain,
		stop:      t.Stop,
		log:       t.Logger,
		maxLine:   t.maxLine,
		msgs:      make(chan jsonrpc.Message),
		inputDone: make(chan struct{}),
		inflight:  make(map[jsonrpc.ID]struct{}),
		idle:      make(chan struct{}),
		ended:     make(chan struct{}),
		closed:    make(chan struct{}),
	}
	if c.in == nil {
		c.in = os.Stdin
	}
	if c.out == nil {
		c.out = os.Stdout
	}
	if c.redact == nil {
		c.redact = func(p []byte) []byte { return p }
	}
	if c.drain <= 0 {
		c.drain = defaultDrain
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.maxLine <= 0 {
		c.maxLine = defaultMaxLine
	}
	go c.readLoop()
	return c, nil
}

// conn is the [mcp.Connection] a Transport returns.
//
// Drain tracking: a call's id is added to inflight when Read hands the call
// to the SDK (subscriptions/listen excepted) and removed when Write sends its
// response. Once draining starts, the session ends (Read returns io.EOF)
// when inflight is empty or the drain time is up, whichever is first. Read never waits on a handler's goroutine:
// jsonrpc2 reads on one goroutine and runs handlers on others, so a handler
// can always write the response Read is waiting for.
type conn struct {
	in      io.Reader
	out     io.Writer
	redact  func([]byte) []byte
	drain   time.Duration
	stop    <-chan struct{}
	log     *slog.Logger
	maxLine int

	// msgs carries decoded messages from readLoop to Read. It is unbuffered,
	// so every message sent on it has been received by Read before readLoop
	// closes inputDone: nothing read before the end of input is lost.
	msgs      chan jsonrpc.Message
	inputDone chan struct{} // closed by readLoop when input ends
	inputErr  error         // why input ended, if not io.EOF; written before inputDone closes

	// Owned by Read, which jsonrpc2 calls from one goroutine at a time.
	inputEnded bool // inputDone has been seen
	stopped    bool // stop has been seen

	writeMu sync.Mutex // serializes writes to out, one line each

	mu         sync.Mutex
	inflight   map[jsonrpc.ID]struct{} // calls read but not yet answered
	draining   bool
	idleClosed bool
	idle       chan struct{} // closed when draining and inflight is empty

	drainOnce sync.Once
	ended     chan struct{} // closed when draining is over: the session ends

	closeOnce sync.Once
	closed    chan struct{}
}

// SessionID implements [mcp.Connection]. A stdio connection has no session
// id: there is one session per process.
func (c *conn) SessionID() string { return "" }

// Read implements [mcp.Connection]. It returns the next message to handle,
// or io.EOF once input has ended (or Stop closed) and in-flight calls have
// been answered or the drain time is up. Malformed lines never reach Read;
// readLoop answers them.
func (c *conn) Read(ctx context.Context) (jsonrpc.Message, error) {
	for {
		// Stop delivering calls once the session is over, even if a message
		// is ready: select picks at random among ready cases.
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.closed:
			return nil, io.EOF
		case <-c.ended:
			return nil, io.EOF
		default:
		}

		var (
			msgs      <-chan jsonrpc.Message
			inputDone <-chan struct{}
			stop      <-chan struct{}
		)
		if !c.inputEnded {
			msgs, inputDone = c.msgs, c.inputDone
		}
		if !c.stopped {
			stop = c.stop
		}
		select {
		case msg := <-msgs:
			req, ok := msg.(*jsonrpc.Request)
			if !ok || !req.IsCall() {
				return msg, nil
			}
			if c.stopped {
				c.log.Info("refusing a call that arrived after stop", "method", req.Method)
				c.writeError(req.ID, codeServerClosing, "server is shutting down; no new calls are accepted")
				continue
			}
			if req.Method != methodSubscriptionsListen {
				c.mu.Lock()
				c.inflight[req.ID] = struct{}{}
				c.mu.Unlock()
			}
			return msg, nil
		case <-inputDone:
			c.inputEnded = true
			if c.inputErr != nil {
				c.log.Error("reading input", "error", c.inputErr)
			}
			c.startDrain("input ended")
		case <-stop:
			c.stopped = true
			c.startDrain("stop requested")
		case <-c.ended:
			return nil, io.EOF
		case <-c.closed:
			return nil, io.EOF
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// startDrain begins the end of the session, once: in-flight calls get until
// the drain time is up to be answered.
func (c *conn) startDrain(why string) {
	c.drainOnce.Do(func() {
		c.mu.Lock()
		c.draining = true
		n := len(c.inflight)
		c.closeIdleLocked()
		c.mu.Unlock()
		c.log.Info("ending session after in-flight calls", "reason", why, "in_flight", n, "drain", c.drain)
		go c.awaitDrain()
	})
}

// awaitDrain closes ended when in-flight calls are all answered, the drain
// time is up, or the connection closes.
func (c *conn) awaitDrain() {
	defer close(c.ended)
	timer := time.NewTimer(c.drain)
	defer timer.Stop()
	select {
	case <-c.idle:
	case <-c.closed:
	case <-timer.C:
		c.mu.Lock()
		n := len(c.inflight)
		c.mu.Unlock()
		c.log.Warn("ending session with calls still in flight; their responses will not be sent",
			"in_flight", n, "drain", c.drain)
	}
}

// closeIdleLocked closes idle if draining has started and no call is in
// flight. c.mu must be held.
func (c *conn) closeIdleLocked() {
	if c.draining && len(c.inflight) == 0 && !c.idleClosed {
		c.idleClosed = true
		close(c.idle)
	}
}

// answered records that the call with this id has its response written.
func (c *conn) answered(id jsonrpc.ID) {
	c.mu.Lock()
	delete(c.inflight, id)
	c.closeIdleLocked()
	c.mu.Unlock()
}

// Write implements [mcp.Connection]. It encodes msg, redacts it and writes it
// as one line in one Write call; it is safe for concurrent use. If redaction
// breaks the JSON, a response is replaced by an error response for the same
// id, and a request or notification is not sent and Write returns an error
// that fails that message alone (the SDK keeps the connection up).
func (c *conn) Write(ctx context.Context, msg jsonrpc.Message) error {
	if resp, ok := msg.(*jsonrpc.Response); ok {
		// Whatever happens below, this call is no longer waiting: a write
		// error means output is gone, and drain must not wait for it.
		defer c.answered(resp.ID)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	line, err := c.encode(msg)
	if err != nil {
		return err
	}
	return c.writeLine(line)
}

// encode gives the redacted wire form of msg, or a replacement error
// response when msg is a response that cannot be sent as it is.
func (c *conn) encode(msg jsonrpc.Message) ([]byte, error) {
	resp, isResp := msg.(*jsonrpc.Response)
	var (
		data []byte
		err  error
	)
	switch {
	case isResp && !resp.ID.IsValid():
		// The SDK's encoder leaves out a missing id, but JSON-RPC requires
		// "id": null on an error response that cannot name its request.
		data, err = encodeError(resp.ID, errorCode(resp.Error), errorMessage(resp.Error))
	case isResp && resp.Error == nil && len(resp.Result) > 0:
		data, err = encodeResult(resp)
	default:
		data, err = jsonrpc.EncodeMessage(msg)
	}
	if err != nil {
		if isResp {
			c.log.Error("encoding response; sending an error instead", "id", resp.ID.Raw(), "error", err)
			return c.fallback(resp.ID, jsonrpc.CodeInternalError, "response could not be encoded")
		}
		return nil, &jsonrpc.Error{Code: codeRejected, Message: "message could not be encoded"}
	}
	out := c.redact(data)
	if framable(data, out) {
		return out, nil
	}
	if isResp {
		c.log.Warn("redaction broke a response; sending an error instead", "id", resp.ID.Raw())
		return c.fallback(resp.ID, jsonrpc.CodeInternalError, withheldMessage)
	}
	method := ""
	if req, ok := msg.(*jsonrpc.Request); ok {
		method = req.Method
	}
	c.log.Warn("redaction broke an outgoing message; not sending it", "method", method)
	return nil, &jsonrpc.Error{Code: codeRejected, Message: "message withheld: it contained a secret that could not be removed cleanly"}
}

// encodeResult encodes a successful response as jsonrpc.EncodeMessage
// does, byte for byte, without passing the result through encoding/json a
// second time: the SDK made Result with encoding/json a moment ago, so it
// is valid and compact, and compacting it again cost a full scan of every
// result (2 ms per MB here; a large tools/list is 1.6 MB). The id is
// written here when it is a number or a plain string, and the whole
// message is left to EncodeMessage otherwise.
func encodeResult(resp *jsonrpc.Response) ([]byte, error) {
	const head, mid = `{"jsonrpc":"2.0","id":`, `,"result":`
	// One byte to spare for writeLine's newline.
	b := make([]byte, 0, len(head)+24+len(mid)+len(resp.Result)+2)
	b = append(b, head...)
	switch id := resp.ID.Raw().(type) {
	case int64:
		b = strconv.AppendInt(b, id, 10)
	case string:
		if !plainString(id) {
			return jsonrpc.EncodeMessage(resp)
		}
		b = append(b, '"')
		b = append(b, id...)
		b = append(b, '"')
	default:
		return jsonrpc.EncodeMessage(resp)
	}
	b = append(b, mid...)
	b = append(b, resp.Result...)
	return append(b, '}'), nil
}

// plainString reports whether s is printable ASCII without '"' or '\\',
// which JSON writes as it is.
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// fallback encodes and redacts an error response built by the transport.
// The id came from the client; if redaction damages even this, the id is
// dropped.
func (c *conn) fallback(id jsonrpc.ID, code int64, message string) ([]byte, error) {
	for _, id := range []jsonrpc.ID{id, {}} {
		data, err := encodeError(id, code, message)
		if err != nil {
			continue
		}
		if out := c.redact(data); framable(data, out) {
			return out, nil
		}
	}
	c.log.Error("redaction broke an error response; not sending it")
	return nil, &jsonrpc.Error{Code: codeRejected, Message: "error response could not be sent"}
}

// framable reports whether out, the redacted form of the JSON text data, can
// go on the wire as one line: it is still valid JSON and has no newline.
func framable(data, out []byte) bool {
	if bytes.IndexByte(out, '\n') >= 0 {
		return false
	}
	unchanged := len(out) == len(data) && (len(out) == 0 || &out[0] == &data[0])
	return unchanged || json.Valid(out)
}

// writeError answers a message the SDK never sees. It is not tracked for
// drain: the id was never counted as in flight.
func (c *conn) writeError(id jsonrpc.ID, code int64, message string) {
	line, err := c.fallback(id, code, message)
	if err == nil {
		err = c.writeLine(line)
	}
	if err != nil {
		c.log.Warn("writing an error response", "code", code, "error", err)
	}
}

// writeLine writes one message and its newline in a single Write call, so
// that concurrent messages never interleave on the wire.
func (c *conn) writeLine(msg []byte) error {
	// msg is ours (encode made it, or redact returned a copy), so its
	// spare capacity can take the newline; a copy only when it has none.
	line := append(msg, '\n')

	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	select {
	case <-c.closed:
		return mcp.ErrConnectionClosed
	default:
	}
	if _, err := c.out.Write(line); err != nil {
		return fmt.Errorf("writing to output: %w", err)
	}
	return nil
}

// Close implements [mcp.Connection]. It unblocks Read and makes later writes
// fail; it does not close In or Out. It may be called more than once.
func (c *conn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}

// readLoop reads input lines until the end of input or of the session,
// answering malformed ones and passing the rest to Read.
func (c *conn) readLoop() {
	defer close(c.inputDone)
	br := bufio.NewReaderSize(c.in, 64<<10)
	for {
		line, err := readLine(br, c.maxLine)
		if c.over() {
			// Nothing more may be written once the session has ended, not
			// even an answer to a bad line.
			return
		}
		if errors.Is(err, errLineTooLong) {
			c.log.Warn("input line too long; answered with an error", "limit_bytes", c.maxLine)
			c.writeError(jsonrpc.ID{}, jsonrpc.CodeInvalidRequest,
				fmt.Sprintf("Invalid Request: message longer than the %d-byte limit", c.maxLine))
			continue
		}
		if line = bytes.Trim(line, jsonSpace); len(line) > 0 {
			msg, id, code, reason := decode(line)
			if msg == nil {
				c.log.Warn("malformed input line; answered with an error", "code", code, "reason", reason)
				c.writeError(id, code, codeText(code)+": "+reason)
			} else {
				select {
				case c.msgs <- msg:
				case <-c.ended:
					return
				case <-c.closed:
					return
				}
			}
		}
		if err != nil {
			if err != io.EOF {
				c.inputErr = err
			}
			return
		}
	}
}

// over reports whether the session has ended: Close was called, or draining
// is done.
func (c *conn) over() bool {
	select {
	case <-c.closed:
		return true
	case <-c.ended:
		return true
	default:
		return false
	}
}

// readLine returns the next line from br, with its newline, or with none at
// the end of input. A line longer than max bytes is read to its end and
// discarded, and errLineTooLong returned.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	tooLong := false
	for {
		frag, err := br.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(frag) > max {
				tooLong, line = true, nil
			} else {
				line = append(line, frag...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if tooLong && (err == nil || err == io.EOF) {
			// At io.EOF the next call sees io.EOF again.
			return nil, errLineTooLong
		}
		return line, err
	}
}

// decode turns one non-blank input line into a message, or says why it is
// not one: the error code, the id to answer (zero if none can be found) and
// a reason that never quotes the line.
func decode(line []byte) (msg jsonrpc.Message, id jsonrpc.ID, code int64, reason string) {
	if !json.Valid(line) {
		return nil, jsonrpc.ID{}, jsonrpc.CodeParseError, "line is not valid JSON"
	}
	if line[0] == '[' {
		return nil, jsonrpc.ID{}, jsonrpc.CodeInvalidRequest,
			"JSON-RPC batches are not supported; send one message per line"
	}
	if line[0] != '{' {
		return nil, jsonrpc.ID{}, jsonrpc.CodeInvalidRequest, "message is not a JSON object"
	}
	msg, err := jsonrpc.DecodeMessage(line)
	if err == nil {
		return msg, jsonrpc.ID{}, 0, ""
	}
	id, reason = diagnose(line)
	return nil, id, jsonrpc.CodeInvalidRequest, reason
}

// diagnose explains why a JSON object is not a JSON-RPC message, and finds
// its id if it has a usable one, so the client can match the error to its
// call.
func diagnose(obj []byte) (jsonrpc.ID, string) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(obj, &fields); err != nil {
		return jsonrpc.ID{}, "message is not a JSON-RPC 2.0 request or response"
	}
	var id jsonrpc.ID
	idOK := true
	if raw, ok := fields["id"]; ok {
		var v any
		if json.Unmarshal(raw, &v) == nil {
			if made, err := jsonrpc.MakeID(v); err == nil {
				id = made
			} else {
				idOK = false
			}
		}
	}
	var version string
	if json.Unmarshal(fields["jsonrpc"], &version) != nil || version != "2.0" {
		return id, `"jsonrpc" must be "2.0"`
	}
	if !idOK {
		return jsonrpc.ID{}, `"id" must be a string, a number or null`
	}
	if raw, ok := fields["method"]; ok {
		var method string
		if json.Unmarshal(raw, &method) != nil {
			return id, `"method" must be a string`
		}
	}
	if _, ok := fields["method"]; !ok && !id.IsValid() {
		return id, "message has neither a method nor an id"
	}
	return id, "message is not a JSON-RPC 2.0 request or response"
}

// codeText is the JSON-RPC name of a code, which starts the error message.
func codeText(code int64) string {
	switch code {
	case jsonrpc.CodeParseError:
		return "Parse error"
	case jsonrpc.CodeInvalidRequest:
		return "Invalid Request"
	}
	return "Error"
}

// encodeError builds a JSON-RPC error response; a zero id is written as null.
func encodeError(id jsonrpc.ID, code int64, message string) ([]byte, error) {
	return json.Marshal(struct {
		JSONRPC string         `json:"jsonrpc"`
		ID      any            `json:"id"`
		Error   *jsonrpc.Error `json:"error"`
	}{"2.0", id.Raw(), &jsonrpc.Error{Code: code, Message: message}})
}

// errorCode is the JSON-RPC code err carries, or -32603 (internal error).
func errorCode(err error) int64 {
	var we *jsonrpc.Error
	if errors.As(err, &we) && we.Code != 0 {
		return we.Code
	}
	return jsonrpc.CodeInternalError
}

// errorMessage is err's text, or a generic one for a response without an
// error (which JSON-RPC does not allow without an id).
func errorMessage(err error) string {
	if err == nil {
		return "response has no id"
	}
	return err.Error()
}
