package probe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// The gRPC health protocol's wire format, by hand: berth does not link
// google.golang.org/grpc for one call. The messages (grpc.health.v1):
//
//	message HealthCheckRequest  { string service = 1; }
//	message HealthCheckResponse { ServingStatus status = 1; }
//	enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
//
// and gRPC's length-prefixed frame around a message:
//
//	+------------+-------------------------+-----------+
//	| compressed | length, 4 bytes, big-   | message   |
//	| 1 byte: 0  | endian                  |           |
//	+------------+-------------------------+-----------+

// healthCheckPath is the method's HTTP/2 path.
const healthCheckPath = "/grpc.health.v1.Health/Check"

// servingStatus is HealthCheckResponse.status.
type servingStatus uint64

const serving servingStatus = 1

func (s servingStatus) String() string {
	switch s {
	case 0:
		return "UNKNOWN"
	case 1:
		return "SERVING"
	case 2:
		return "NOT_SERVING"
	case 3:
		return "SERVICE_UNKNOWN"
	}
	return strconv.FormatUint(uint64(s), 10)
}

// protobuf wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// maxMessage bounds the response message berth accepts: the real one is
// two or three bytes.
const maxMessage = 4 << 10

// requestFrame returns the framed HealthCheckRequest for service. An empty
// service is the default value, which proto3 leaves out: an empty message.
func requestFrame(service string) []byte {
	var msg []byte
	if service != "" {
		msg = binary.AppendUvarint([]byte{1<<3 | wireBytes}, uint64(len(service)))
		msg = append(msg, service...)
	}
	frame := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(frame[1:], uint32(len(msg)))
	return append(frame, msg...)
}

// parseResponseFrame returns the status of the one framed
// HealthCheckResponse in body.
func parseResponseFrame(body []byte) (servingStatus, error) {
	if len(body) < 5 {
		return 0, fmt.Errorf("response of %d bytes is shorter than a gRPC frame header", len(body))
	}
	if body[0] != 0 {
		return 0, errors.New("response message is compressed, which the probe did not accept")
	}
	n := binary.BigEndian.Uint32(body[1:5])
	if n > maxMessage || int(n) != len(body)-5 {
		return 0, fmt.Errorf("response frame says %d bytes and holds %d", n, len(body)-5)
	}
	return parseResponse(body[5:])
}

// parseResponse decodes a HealthCheckResponse, skipping unknown fields as
// protobuf requires; the last status field wins, as in protobuf.
func parseResponse(msg []byte) (servingStatus, error) {
	var status servingStatus
	for len(msg) > 0 {
		tag, n := binary.Uvarint(msg)
		if n <= 0 {
			return 0, errors.New("response message: bad field tag")
		}
		msg = msg[n:]
		field, wire := tag>>3, tag&7
		switch wire {
		case wireVarint:
			v, n := binary.Uvarint(msg)
			if n <= 0 {
				return 0, fmt.Errorf("response message: field %d: bad varint", field)
			}
			msg = msg[n:]
			if field == 1 {
				status = servingStatus(v)
			}
		case wireFixed64, wireFixed32:
			size := 8
			if wire == wireFixed32 {
				size = 4
			}
			if len(msg) < size {
				return 0, fmt.Errorf("response message: field %d: truncated", field)
			}
			msg = msg[size:]
		case wireBytes:
			l, n := binary.Uvarint(msg)
			if n <= 0 || l > uint64(len(msg)-n) {
				return 0, fmt.Errorf("response message: field %d: bad length", field)
			}
			msg = msg[n+int(l):]
		default:
			return 0, fmt.Errorf("response message: field %d: unknown wire type %d", field, wire)
		}
		if field == 1 && wire != wireVarint {
			return 0, fmt.Errorf("response message: status has wire type %d, not varint", wire)
		}
	}
	return status, nil
}

// grpcTimeout encodes d as a grpc-timeout header: at most 8 digits and a
// unit, rounded up so that the server never sees less than the probe waits.
func grpcTimeout(d time.Duration) string {
	const maxDigits = 99999999
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{time.Nanosecond, "n"}, {time.Microsecond, "u"}, {time.Millisecond, "m"}, {time.Second, "S"}, {time.Minute, "M"}} {
		if v := (d + u.unit - 1) / u.unit; v <= maxDigits {
			return strconv.FormatInt(int64(v), 10) + u.name
		}
	}
	return strconv.FormatInt(int64((d+time.Hour-1)/time.Hour), 10) + "H"
}

// grpcCode is a gRPC status code.
type grpcCode int

const (
	codeUnknown          grpcCode = 2
	codeDeadlineExceeded grpcCode = 4
	codeUnimplemented    grpcCode = 12
	codeInternal         grpcCode = 13
	codeUnavailable      grpcCode = 14
)

var codeNames = [...]string{
	"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
	"AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
	"Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss",
	"Unauthenticated",
}

func (c grpcCode) String() string {
	if c >= 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "Code(" + strconv.Itoa(int(c)) + ")"
}

// statusError is a non-OK gRPC status, worded as grpc-go words it (the
// kubelet's events carry that wording).
type statusError struct {
	code grpcCode
	msg  string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("rpc error: code = %s desc = %s", e.code, e.msg)
}

// parseStatus reads grpc-status and grpc-message (percent-encoded); ok is
// false when there is no grpc-status.
func parseStatus(status, message string) (err error, ok bool) {
	if status == "" {
		return nil, false
	}
	code, cerr := strconv.Atoi(status)
	if cerr != nil {
		return &statusError{codeInternal, fmt.Sprintf("malformed grpc-status %q", status)}, true
	}
	if code == 0 {
		return nil, true
	}
	if m, err := url.PathUnescape(message); err == nil {
		message = m
	}
	return &statusError{grpcCode(code), message}, true
}

// httpStatusCode is the gRPC code of a response whose HTTP status is not
// 200, as gRPC's HTTP/2 mapping gives it.
func httpStatusCode(status int) grpcCode {
	switch status {
	case 400:
		return codeInternal
	case 401:
		return 16 // Unauthenticated
	case 403:
		return 7 // PermissionDenied
	case 404:
		return codeUnimplemented
	case 429, 502, 503, 504:
		return codeUnavailable
	}
	return codeUnknown
}
