package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
)

// Failure is an error with a short reason, recorded as
// probe_failure_info{reason="..."} so operators can group failures.
type Failure struct {
	Reason string
	Err    error
}

func (f *Failure) Error() string { return f.Err.Error() }
func (f *Failure) Unwrap() error { return f.Err }

func fail(reason, format string, a ...any) error {
	return &Failure{Reason: reason, Err: fmt.Errorf(format, a...)}
}

// Reason classifies err: timeout, refused, unreachable, reset, dns,
// tls_verify, tls, or the reason a prober gave (status, body_mismatch,
// body_too_large, redirects, rcode, answer_mismatch, expect, ...).
func Reason(err error) string {
	var f *Failure
	var dnsErr *net.DNSError
	var certInvalid x509.CertificateInvalidError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var verifyErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	var alert tls.AlertError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &f):
		return f.Reason
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable"
	case errors.As(err, &dnsErr):
		if dnsErr.IsTimeout {
			return "timeout"
		}
		return "dns"
	case errors.As(err, &verifyErr), errors.As(err, &certInvalid), errors.As(err, &unknownAuth), errors.As(err, &hostErr):
		return "tls_verify"
	case errors.As(err, &recordErr), errors.As(err, &alert):
		return "tls"
	}
	return "error"
}
