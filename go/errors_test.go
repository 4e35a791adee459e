package backstop

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// apiError has the methods smithy-go's APIError and awshttp.ResponseError have.
type apiError struct {
	code   string
	status int
}

func (e *apiError) Error() string       { return "api error " + e.code }
func (e *apiError) ErrorCode() string   { return e.code }
func (e *apiError) HTTPStatusCode() int { return e.status }

// statusError reports its status as StatusCode() int and a code as Code().
type statusError struct {
	status int
	code   string
}

func (e statusError) Error() string   { return fmt.Sprintf("status %d", e.status) }
func (e statusError) StatusCode() int { return e.status }
func (e statusError) Code() string    { return e.code }

// grpc-go's shapes, without grpc: status.Status.Code() returns codes.Code.
type fakeCode uint32
type fakeStatus struct{ code fakeCode }

func (s *fakeStatus) Code() fakeCode { return s.code }

type grpcError struct{ s *fakeStatus }

func (e *grpcError) Error() string           { return "rpc error" }
func (e *grpcError) GRPCStatus() *fakeStatus { return e.s }

// cyclic unwraps to next, which may lead back to itself.
type cyclic struct{ next error }

func (e *cyclic) Error() string { return "cyclic" }
func (e *cyclic) Unwrap() error { return e.next }

// endless is a non-comparable value that unwraps to a copy of itself
// forever, so only the walk's budget stops it.
type endless struct{ depth []int }

func (e endless) Error() string { return "endless" }
func (e endless) Unwrap() error { return endless{depth: append(e.depth, 1)} }

// selfJoin contains itself among its joined errors.
type selfJoin struct{ errs []error }

func (e *selfJoin) Error() string   { return "self-join" }
func (e *selfJoin) Unwrap() []error { return e.errs }

func TestFailureFromJoinedErrors(t *testing.T) {
	throttled := &apiError{code: "ThrottlingException", status: 400}
	err := errors.Join(errors.New("first"), fmt.Errorf("both: %w and %w", statusError{status: 0}, throttled))
	f := FailureFromError(err)
	wantTypes := []string{"*errors.joinError", "*errors.errorString", "*fmt.wrapErrors", "backstop.statusError", "*backstop.apiError"}
	if !reflect.DeepEqual(f.ErrorTypes, wantTypes) {
		t.Errorf("types %q, want %q", f.ErrorTypes, wantTypes)
	}
	// statusError's 0 is not a status; the first real one is apiError's.
	if f.HTTPStatus == nil || *f.HTTPStatus != 400 || f.ErrorCode == nil || *f.ErrorCode != "ThrottlingException" {
		t.Errorf("got %+v", f)
	}
	c, cerr := loadPolicy(t, newEngine(t), "", TOML).ClassifyError(context.Background(), err)
	if cerr != nil || c.Class != Transient || c.Rule != "builtin.cloud-throttling" {
		t.Errorf("a throttling code outranks the 400: got %+v, %v", c, cerr)
	}
}

func TestFailureFromErrorPrefersTheOutermostFinding(t *testing.T) {
	// apiError comes first: its status wins; its empty code does not count.
	err := fmt.Errorf("wrap: %w", errors.Join(&apiError{code: "", status: 502}, statusError{status: 503, code: "SlowDown"}))
	f := FailureFromError(err)
	if *f.HTTPStatus != 502 || *f.ErrorCode != "SlowDown" {
		t.Errorf("status %d code %s", *f.HTTPStatus, *f.ErrorCode)
	}
}

func TestFailureFromCyclicErrors(t *testing.T) {
	a, b := &cyclic{}, &cyclic{}
	a.next, b.next = b, a
	f := FailureFromError(a)
	if want := []string{"*backstop.cyclic", "*backstop.cyclic"}; !reflect.DeepEqual(f.ErrorTypes, want) {
		t.Errorf("a two-error cycle: %q", f.ErrorTypes)
	}

	self := &selfJoin{}
	self.errs = []error{self, nil, statusError{code: "SlowDown"}, self}
	f = FailureFromError(self)
	if want := []string{"*backstop.selfJoin", "backstop.statusError"}; !reflect.DeepEqual(f.ErrorTypes, want) || *f.ErrorCode != "SlowDown" {
		t.Errorf("a self-join: %q %v", f.ErrorTypes, f.ErrorCode)
	}

	f = FailureFromError(endless{})
	if len(f.ErrorTypes) != maxErrorTypes {
		t.Errorf("an endless chain gave %d types, want the cap of %d", len(f.ErrorTypes), maxErrorTypes)
	}
}

func TestFailureFromGRPCStatus(t *testing.T) {
	ctx := context.Background()
	p := loadPolicy(t, newEngine(t), "", TOML)
	f := FailureFromError(fmt.Errorf("call: %w", &grpcError{s: &fakeStatus{code: 14}}))
	if f.GRPCCode == nil || *f.GRPCCode != "14" {
		t.Fatalf("grpc code %v", f.GRPCCode)
	}
	if c, err := p.Classify(ctx, f); err != nil || c.Rule != "builtin.grpc-transient" {
		t.Errorf("UNAVAILABLE: got %+v, %v", c, err)
	}
	for _, err := range []error{
		&grpcError{s: &fakeStatus{code: 0}}, // OK is not a failure code
		&grpcError{s: nil},                  // Code() on a nil status panics here
	} {
		if f := FailureFromError(err); f.GRPCCode != nil {
			t.Errorf("%#v: grpc code %s", err, *f.GRPCCode)
		}
	}
}

func TestFailureFromPanickingMethods(t *testing.T) {
	var nilURL *url.Error // its Error() dereferences nil
	var nilAPI *apiError
	err := errors.Join(nilURL, nilAPI, statusError{status: 503, code: "SlowDown"})
	var f Failure
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("FailureFromError panicked: %v", r)
			}
		}()
		f = FailureFromError(err)
	}()
	if f.Message != nil {
		t.Errorf("a message from a panicking Error(): %q", *f.Message)
	}
	want := []string{"*errors.joinError", "*url.Error", "*backstop.apiError", "backstop.statusError"}
	if *f.ErrorCode != "SlowDown" || *f.HTTPStatus != 503 || !reflect.DeepEqual(f.ErrorTypes, want) {
		t.Errorf("got %+v", f)
	}
}

func TestFailureFromErrorMessage(t *testing.T) {
	f := FailureFromError(errors.New("bad \xff bytes"))
	c, err := loadPolicy(t, newEngine(t), "[[classify.rules]]\nid = \"m\"\nclass = \"transient\"\nmessage = \"bad \\uFFFD bytes\"\n", TOML).
		Classify(context.Background(), f)
	if err != nil || c.Rule != "m" {
		t.Errorf("invalid UTF-8 in a message: got %+v, %v", c, err)
	}
	if got := FailureFromError(nil); !reflect.DeepEqual(got, Failure{}) {
		t.Errorf("nil error: %+v", got)
	}
}

func TestClassifyErrorNil(t *testing.T) {
	_, err := loadPolicy(t, newEngine(t), "", TOML).ClassifyError(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "non-nil") {
		t.Errorf("got %v", err)
	}
}
