package backstop

import (
	"reflect"
	"strconv"
	"sync"
)

// Bounds on the error-tree walk. The classifier examines at most 64 cause
// chain entries, so more would be wasted; the visit budget bounds the walk
// of huge or self-similar trees whose nodes cannot be compared for cycles.
const (
	maxErrorTypes  = 64
	maxErrorVisits = 256
)

// FailureFromError describes err as a Failure, walking its tree of causes
// depth-first, outermost first: errors.Unwrap (Unwrap() error) and joined
// errors (Unwrap() []error, as errors.Join and fmt.Errorf with several %w
// make). The walk is cycle-safe (each pointer-shaped or comparable error is
// visited once) and bounded. It collects:
//
//   - ErrorTypes: every error's dynamic type as fmt's %T prints it
//     ("*url.Error", "*net.OpError", "syscall.Errno").
//   - HTTPStatus: from the first error with a method HTTPStatusCode() int
//     (smithy-go's awshttp.ResponseError) or StatusCode() int, checked in
//     that order; only values 100-599 count.
//   - ErrorCode: from the first error with ErrorCode() string (smithy-go's
//     APIError) or Code() string (aws-sdk-go v1's awserr.Error), or that is
//     a syscall.Errno, named by its POSIX name ("ECONNRESET").
//   - GRPCCode: from the first error with a GRPCStatus() method (as
//     google.golang.org/grpc/status uses) whose result has a Code() method
//     returning an integer other than 0 (OK); sent as the code's number.
//   - ExitCode and Signal: from the first error with ExitCode() int (such as
//     *exec.ExitError; negative values mean "none"), and a Sys() whose result
//     reports Signaled() and Signal() (a syscall.WaitStatus).
//   - Message: err.Error().
//
// A method that panics (a typed nil receiver, say) is treated as absent.
// FailureFromError(nil) is the empty Failure.
func FailureFromError(err error) Failure {
	var f Failure
	if err == nil {
		return f
	}
	if msg, ok := safeCall(err.Error); ok {
		f.Message = &msg
	}
	// Most errors are a single value or a short chain without repeats:
	// visit the root, and build the set of visited errors (reflection,
	// allocations) only when the tree goes on.
	visit(err, &f)
	children := unwrap(err)
	if len(children) == 0 {
		return f
	}
	seen := make(map[any]struct{})
	if key, ok := identity(err); ok {
		seen[key] = struct{}{}
	}
	stack := make([]error, 0, len(children)+4)
	for i := len(children) - 1; i >= 0; i-- {
		stack = append(stack, children[i])
	}
	for visits := 1; len(stack) > 0 && visits < maxErrorVisits; visits++ {
		e := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if e == nil {
			continue
		}
		if key, ok := identity(e); ok {
			if _, dup := seen[key]; dup {
				continue
			}
			seen[key] = struct{}{}
		}
		visit(e, &f)
		// Push children in reverse so the first is visited next (pre-order).
		children := unwrap(e)
		for i := len(children) - 1; i >= 0; i-- {
			stack = append(stack, children[i])
		}
	}
	return f
}

// visit records one error of the tree: its type name (as fmt's %T prints
// it) and whatever of f its methods fill.
func visit(e error, f *Failure) {
	if len(f.ErrorTypes) < maxErrorTypes {
		f.ErrorTypes = append(f.ErrorTypes, reflect.TypeOf(e).String())
	}
	inspect(e, f)
}

// identity is a key that is equal for the same error value: the pointer for
// pointer-shaped errors, the value itself for comparable ones.
func identity(e error) (any, bool) {
	v := reflect.ValueOf(e)
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Chan, reflect.Func, reflect.UnsafePointer, reflect.Slice:
		type ptrKey struct {
			t reflect.Type
			p uintptr
		}
		return ptrKey{v.Type(), v.Pointer()}, true
	}
	if v.Comparable() {
		return e, true
	}
	return nil, false
}

func unwrap(e error) []error {
	switch u := e.(type) {
	case interface{ Unwrap() []error }:
		children, _ := safeCall(u.Unwrap)
		return children
	case interface{ Unwrap() error }:
		child, ok := safeCall(u.Unwrap)
		if ok && child != nil {
			return []error{child}
		}
	}
	return nil
}

// safeCall runs a method of a foreign error, treating a panic as "absent".
func safeCall[T any](fn func() T) (v T, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return fn(), true
}

// inspect fills the fields of f that are still absent from e's methods.
func inspect(e error, f *Failure) {
	if f.HTTPStatus == nil {
		var status int
		var ok bool
		switch s := e.(type) {
		case interface{ HTTPStatusCode() int }:
			status, ok = safeCall(s.HTTPStatusCode)
		case interface{ StatusCode() int }:
			status, ok = safeCall(s.StatusCode)
		}
		if ok && status >= 100 && status <= 599 {
			f.HTTPStatus = &status
		}
	}
	if f.ErrorCode == nil {
		var code string
		switch c := e.(type) {
		case interface{ ErrorCode() string }:
			code, _ = safeCall(c.ErrorCode)
		case interface{ Code() string }:
			code, _ = safeCall(c.Code)
		default:
			code = errnoName(e)
		}
		if code != "" {
			f.ErrorCode = &code
		}
	}
	if f.GRPCCode == nil {
		if code, ok := grpcCode(e); ok {
			s := strconv.FormatUint(code, 10)
			f.GRPCCode = &s
		}
	}
	if f.ExitCode == nil {
		if x, ok := e.(interface{ ExitCode() int }); ok {
			if code, ok := safeCall(x.ExitCode); ok && code >= 0 {
				f.ExitCode = &code
			}
		}
	}
	if f.Signal == nil {
		if x, ok := e.(interface{ Sys() any }); ok {
			if sys, ok := safeCall(x.Sys); ok {
				if sig, ok := safeCall(func() int { return exitSignal(sys) }); ok && sig > 0 {
					s := strconv.Itoa(sig)
					f.Signal = &s
				}
			}
		}
	}
}

// grpcCode calls e.GRPCStatus().Code() by reflection, so this package does
// not depend on grpc. Code 0 (OK) and a failing call mean "no code".
func grpcCode(e error) (code uint64, ok bool) {
	defer func() {
		if recover() != nil {
			code, ok = 0, false
		}
	}()
	ev := reflect.ValueOf(e)
	index, ok := grpcStatusMethod(ev.Type())
	if !ok {
		return 0, false
	}
	c := ev.Method(index).Call(nil)[0].MethodByName("Code")
	if !c.IsValid() || c.Type().NumIn() != 0 || c.Type().NumOut() != 1 {
		return 0, false
	}
	v := c.Call(nil)[0]
	switch v.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		code = v.Uint()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if v.Int() < 0 {
			return 0, false
		}
		code = uint64(v.Int())
	default:
		return 0, false
	}
	return code, code != 0
}

// grpcStatusMethods caches, per error type, the index of its method
// GRPCStatus() with one result, or -1: looking a method up by name walks the
// type's method table, and a retry loop meets the same few types again and
// again.
var grpcStatusMethods sync.Map // reflect.Type -> int

func grpcStatusMethod(t reflect.Type) (int, bool) {
	if index, ok := grpcStatusMethods.Load(t); ok {
		return index.(int), index.(int) >= 0
	}
	index := -1
	if m, ok := t.MethodByName("GRPCStatus"); ok && m.Type.NumIn() == 1 && m.Type.NumOut() == 1 {
		index = m.Index
	}
	grpcStatusMethods.Store(t, index)
	return index, index >= 0
}
