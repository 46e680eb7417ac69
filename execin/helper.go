package execin

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The exec helper's protocol, on the socket the daemon hands it (see
// serve_linux.go and helper_linux.go). All integers are big-endian uint32.
//
//	request (daemon -> helper): length L (at most maxRequest), then L bytes:
//	  the output cap, argc (1 to maxArgs), then each argument as its
//	  length and bytes (no NUL; the first not empty)
//	reply (helper -> daemon): kind, status, length N, then N bytes:
//	  'x': the command ran or could not: status 0 to 255 (ExitCode's),
//	       N at most the request's cap, the output (or the reason it
//	       could not run, as exec-init's SetupError reads)
//	  's': entering the container failed: status 0, N at most
//	       maxSetupReport, a SetupError as JSON; the helper exits
//
// The daemon reads replies as hostile input: every length is capped before
// anything is allocated, and a reply it cannot parse ends the helper.
const (
	maxRequest     = 1 << 20
	maxArgs        = 4096
	maxSetupReport = 64 << 10
	replyHeader    = 9

	replyExit  byte = 'x'
	replySetup byte = 's'
)

// errProtocol is wrapped by every framing error.
var errProtocol = errors.New("exec helper protocol")

// request is one command for the helper to run.
type request struct {
	Args []string
	// Max is how much of the output is kept.
	Max int
}

// reply is the helper's answer to a request: how the command ended and
// its output, or (Setup) why the helper could not enter the container.
type reply struct {
	Status int
	Output []byte
	Setup  *SetupError
}

func protocolError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errProtocol, fmt.Sprintf(format, args...))
}

func checkArgs(args []string) error {
	if len(args) == 0 || len(args) > maxArgs {
		return protocolError("%d arguments, want 1 to %d", len(args), maxArgs)
	}
	if args[0] == "" {
		return protocolError("empty command")
	}
	for _, a := range args {
		if bytes.IndexByte([]byte(a), 0) >= 0 {
			return protocolError("argument %q holds a NUL byte", a)
		}
	}
	return nil
}

// encodeRequest frames r.
func encodeRequest(r request) ([]byte, error) {
	if err := checkArgs(r.Args); err != nil {
		return nil, err
	}
	if r.Max < 0 || r.Max > maxRequest {
		return nil, protocolError("output cap %d is not within 0 to %d", r.Max, maxRequest)
	}
	b := binary.BigEndian.AppendUint32(make([]byte, 4, 64), uint32(r.Max))
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.Args)))
	for _, a := range r.Args {
		b = binary.BigEndian.AppendUint32(b, uint32(len(a)))
		b = append(b, a...)
	}
	if len(b)-4 > maxRequest {
		return nil, protocolError("request of %d bytes is over %d", len(b)-4, maxRequest)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b, nil
}

// readRequest reads one request; io.EOF when the daemon closed its end
// between requests.
func readRequest(r io.Reader) (request, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return request{}, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < 8 || n > maxRequest {
		return request{}, protocolError("request length %d is not within 8 to %d", n, maxRequest)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return request{}, fmt.Errorf("%w: short request: %w", errProtocol, err)
	}
	req := request{Max: int(binary.BigEndian.Uint32(body))}
	argc := binary.BigEndian.Uint32(body[4:])
	if req.Max > maxRequest {
		return request{}, protocolError("output cap %d is over %d", req.Max, maxRequest)
	}
	if argc == 0 || argc > maxArgs {
		return request{}, protocolError("%d arguments, want 1 to %d", argc, maxArgs)
	}
	rest := body[8:]
	for range argc {
		if len(rest) < 4 {
			return request{}, protocolError("argument %d is cut short", len(req.Args))
		}
		l := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(l) > uint64(len(rest)) {
			return request{}, protocolError("argument %d of %d bytes is cut short", len(req.Args), l)
		}
		req.Args = append(req.Args, string(rest[:l]))
		rest = rest[l:]
	}
	if len(rest) != 0 {
		return request{}, protocolError("%d bytes after the last argument", len(rest))
	}
	if err := checkArgs(req.Args); err != nil {
		return request{}, err
	}
	return req, nil
}

// encodeReply frames rp; a Setup reply carries the SetupError.
func encodeReply(rp reply) []byte {
	kind, status, payload := replyExit, rp.Status, rp.Output
	if rp.Setup != nil {
		kind, status = replySetup, 0
		b, err := json.Marshal(rp.Setup)
		if err != nil || len(b) > maxSetupReport {
			b, _ = json.Marshal(SetupError{Step: rp.Setup.Step, Message: "report too long"})
		}
		payload = b
	}
	b := append(make([]byte, 0, replyHeader+len(payload)), kind)
	b = binary.BigEndian.AppendUint32(b, uint32(status))
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

// readReply reads one reply to a request whose output cap is max(), asked
// once the reply's header came. Every
// length is checked before it is read; any reply out of the protocol is an
// error wrapping errProtocol.
func readReply(r io.Reader, max func() int) (reply, error) {
	var hdr [replyHeader]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return reply{}, err
	}
	status := binary.BigEndian.Uint32(hdr[1:])
	n := binary.BigEndian.Uint32(hdr[5:])
	switch hdr[0] {
	case replyExit:
		if status > 255 {
			return reply{}, protocolError("exit status %d is over 255", status)
		}
		if limit := max(); uint64(n) > uint64(limit) {
			return reply{}, protocolError("output of %d bytes is over the cap of %d", n, limit)
		}
	case replySetup:
		if status != 0 || n == 0 || n > maxSetupReport {
			return reply{}, protocolError("setup report of %d bytes (status %d)", n, status)
		}
	default:
		return reply{}, protocolError("reply kind %#x", hdr[0])
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return reply{}, fmt.Errorf("%w: short reply: %w", errProtocol, err)
	}
	if hdr[0] == replyExit {
		return reply{Status: int(status), Output: payload}, nil
	}
	var se SetupError
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&se); err != nil || se.Step == "" {
		return reply{}, protocolError("setup report %q", payload)
	}
	return reply{Setup: &se}, nil
}
