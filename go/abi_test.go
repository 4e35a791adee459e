package backstop

import (
	"context"
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// fakeMem is linear memory for testing the glue without a guest.
type fakeMem []byte

func (m fakeMem) Read(off, n uint32) ([]byte, bool) {
	if uint64(off)+uint64(n) > uint64(len(m)) {
		return nil, false
	}
	return m[off : off+n], true
}

// bump is a bump allocator over a fakeMem, starting past address 0 so a
// null pointer is never valid.
type bump struct {
	mem  fakeMem
	next uint32
}

func newBump(size int) *bump { return &bump{mem: make(fakeMem, size), next: 8} }

func (b *bump) alloc(size, align uint32) (uint32, error) {
	b.next = alignTo(b.next, align)
	p := b.next
	b.next += size
	return p, nil
}

func (b *bump) writer() *writer { return &writer{mem: b.mem, alloc: b.alloc} }

func (b *bump) u32(p uint32) uint32 { return binary.LittleEndian.Uint32(b.mem[p:]) }

func (b *bump) str(p uint32) string {
	ptr, n := b.u32(p), b.u32(p+4)
	return string(b.mem[ptr : ptr+n])
}

func TestLayouts(t *testing.T) {
	tests := []struct {
		name        string
		t           *abiType
		size, align uint32
		flat        int
	}{
		{"u8", u8T, 1, 1, 1},
		{"string", stringT, 8, 4, 2},
		{"list<string>", listStringT, 8, 4, 2},
		{"option<u16>", optionU16T, 4, 2, 2},
		{"option<s32>", optionS32T, 8, 4, 2},
		{"option<string>", optionStringT, 12, 4, 3},
		{"enum of 2", policyFormatT, 1, 1, 1},
		{"enum of 256", enumOf(256), 1, 1, 1},
		{"enum of 257", enumOf(257), 2, 2, 1},
		{"enum of 65537", enumOf(65537), 4, 4, 1},
		{"variant<u8>", variantOf(u8T), 2, 1, 2},
		{"record{u8, u16}", recordOf(u8T, u16T), 4, 2, 2},
		{"record{u8, u32, u16}", recordOf(u8T, u32T, u16T), 12, 4, 3},
		{"empty record", recordOf(), 0, 1, 0},
		{"location", locationT, 8, 4, 2},
		{"policy-error", policyErrorT, 32, 4, 8},
		{"failure", failureT, 76, 4, 20},
		{"classification", classificationT, 24, 4, 6},
		{"result<u32, list<policy-error>>", loadPolicyFn.result, 12, 4, 3},
		{"result<classification, policy-error>", classifyFn.result, 36, 4, 9},
		{"classify params", classifyFn.args, 80, 4, 21},
	}
	for _, tt := range tests {
		if tt.t.size != tt.size || tt.t.align != tt.align || len(tt.t.flat) != tt.flat {
			t.Errorf("%s: size %d align %d flat %d, want %d %d %d",
				tt.name, tt.t.size, tt.t.align, len(tt.t.flat), tt.size, tt.align, tt.flat)
		}
	}
	if got := failureT.offsets; !reflect.DeepEqual(got, []uint32{0, 4, 16, 24, 36, 44, 52, 64}) {
		t.Errorf("failure field offsets %v", got)
	}
	if got := policyErrorT.offsets; !reflect.DeepEqual(got, []uint32{0, 4, 12, 20}) {
		t.Errorf("policy-error field offsets %v", got)
	}
	if optionU16T.payloadOff != 2 || optionStringT.payloadOff != 4 || variantOf(u8T).payloadOff != 1 {
		t.Errorf("payload offsets %d %d", optionU16T.payloadOff, optionStringT.payloadOff)
	}
}

func TestVariantFlatteningJoinsCases(t *testing.T) {
	i32, i64, f32 := api.ValueTypeI32, api.ValueTypeI64, api.ValueTypeF32
	if join(i32, f32) != i32 || join(f32, i32) != i32 || join(i32, i64) != i64 || join(i64, i64) != i64 {
		t.Error("join does not follow the canonical ABI")
	}
	// Cases of different widths: the widest wins, slot by slot.
	v := variantOf(u32T, stringT, nil)
	if want := []api.ValueType{i32, i32, i32}; !reflect.DeepEqual(v.flat, want) {
		t.Errorf("flat %v, want %v", v.flat, want)
	}
}

func TestCoreSignatures(t *testing.T) {
	i32 := api.ValueTypeI32
	tests := []struct {
		f               *witFunc
		params, results []api.ValueType
		indirectParams  bool
	}{
		{loadPolicyFn, []api.ValueType{i32, i32, i32}, []api.ValueType{i32}, false},
		{dropPolicyFn, []api.ValueType{i32}, nil, false},
		{classifyFn, []api.ValueType{i32}, []api.ValueType{i32}, true},
		{newWitFunc("flat-result", u32T, u32T), []api.ValueType{i32}, []api.ValueType{i32}, false},
	}
	for _, tt := range tests {
		params, results := tt.f.coreSignature()
		if !reflect.DeepEqual(params, tt.params) || !reflect.DeepEqual(results, tt.results) ||
			tt.f.indirectParams() != tt.indirectParams {
			t.Errorf("%s: %v -> %v, want %v -> %v", tt.f.name, params, results, tt.params, tt.results)
		}
	}
}

// The embedded module's exports have exactly the signatures the glue derives
// from the WIT, and a mismatch is reported.
func TestModuleExportsMatchTheWIT(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	compiled, err := rt.CompileModule(ctx, coreWasm)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkModule(compiled); err != nil {
		t.Fatal(err)
	}
	exports := compiled.ExportedFunctions()
	for _, name := range []string{"cabi_realloc", postReturnName(loadPolicyFn), postReturnName(classifyFn)} {
		if _, ok := exports[name]; !ok {
			t.Errorf("missing export %q", name)
		}
	}
	wrong := newWitFunc("classify", nil, u32T, u32T)
	err = wrong.checkSignature(exports[exportName(classifyFn)])
	if err == nil || !strings.Contains(err.Error(), "canonical ABI") {
		t.Errorf("mismatched signature: got %v", err)
	}
}

func TestLowerFailureIndirect(t *testing.T) {
	b := newBump(4096)
	w := b.writer()
	f := Failure{
		HTTPStatus: new(503),
		ExitCode:   new(-2),
		Signal:     new("SIGTERM"),
		ErrorTypes: []string{"*url.Error", "é"},
		ErrorBases: []string{"net.Error"},
		Message:    new("boom"),
	}
	args := lowerArgs(w, classifyFn, func(s sink) {
		s.int(u32T, 7)
		lowerFailure(s, &f)
	})
	if w.err != nil {
		t.Fatal(w.err)
	}
	if len(args) != 1 {
		t.Fatalf("classify takes its %d flat params indirectly; got %d args", len(classifyFn.args.flat), len(args))
	}
	p := uint32(args[0])
	m := b.mem
	if p%4 != 0 || b.u32(p) != 7 {
		t.Fatalf("handle at %#x: %d", p, b.u32(p))
	}
	base := p + 4 // failure record
	checks := []struct {
		name      string
		got, want any
	}{
		{"http-status some", m[base], byte(1)},
		{"http-status", binary.LittleEndian.Uint16(m[base+2:]), uint16(503)},
		{"grpc-code none", m[base+4], byte(0)},
		{"exit-code some", m[base+16], byte(1)},
		{"exit-code", int32(b.u32(base + 20)), int32(-2)},
		{"signal some", m[base+24], byte(1)},
		{"signal", b.str(base + 28), "SIGTERM"},
		{"error-types len", b.u32(base + 40), uint32(2)},
		{"error-types[0]", b.str(b.u32(base + 36)), "*url.Error"},
		{"error-types[1]", b.str(b.u32(base+36) + 8), "é"},
		{"error-bases len", b.u32(base + 48), uint32(1)},
		{"error-bases[0]", b.str(b.u32(base + 44)), "net.Error"},
		{"error-code none", m[base+52], byte(0)},
		{"message some", m[base+64], byte(1)},
		{"message", b.str(base + 68), "boom"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestLowerFlatParams(t *testing.T) {
	b := newBump(1024)
	w := b.writer()
	args := lowerArgs(w, loadPolicyFn, func(s sink) {
		s.string("id = 1")
		s.int(policyFormatT, 1)
	})
	if w.err != nil {
		t.Fatal(w.err)
	}
	if len(args) != 3 || args[1] != 6 || args[2] != 1 {
		t.Fatalf("args %v", args)
	}
	if got := string(b.mem[args[0] : args[0]+6]); got != "id = 1" {
		t.Errorf("string %q", got)
	}

	rec0 := newWitFunc("empties", nil, stringT, listStringT)

	// Variants flatten to a fixed width, zero-padded for shorter cases.
	opt := newWitFunc("opt", nil, optionStringT, optionU16T)
	none := lowerArgs(w, opt, func(s sink) {
		lowerWitOptionString(s, nil)
		p, mark := s.variant(optionU16T, 1)
		p.int(u16T, 404)
		s.end(optionU16T, mark)
	})
	if want := []uint64{0, 0, 0, 1, 404}; !reflect.DeepEqual(none, want) {
		t.Errorf("flat option args %v, want %v", none, want)
	}
	some := lowerArgs(w, opt, func(s sink) {
		lowerWitOptionString(s, new("hi"))
		_, mark := s.variant(optionU16T, 0)
		s.end(optionU16T, mark)
	})
	if len(some) != 5 || some[0] != 1 || some[2] != 2 || some[3] != 0 || some[4] != 0 {
		t.Errorf("flat option args %v", some)
	}
	// Empty strings and lists need no allocation: an aligned non-null pointer.
	before := b.next
	empty := lowerArgs(w, rec0, func(s sink) {
		s.string("")
		s.list(stringT, 0)
	})
	if want := []uint64{1, 0, 4, 0}; !reflect.DeepEqual(empty, want) || b.next != before {
		t.Errorf("empty args %v, want %v without allocating", empty, want)
	}

	// Records flatten field by field; lists go to memory either way.
	rec := newWitFunc("rec", nil, recordOf(u8T, listStringT))
	vals := lowerArgs(w, rec, func(s sink) {
		r := s.record(rec.params[0])
		r.int(u8T, 9)
		e := r.list(stringT, 2)
		e.string("a")
		e.string("bc")
	})
	if len(vals) != 3 || vals[0] != 9 || vals[2] != 2 || b.str(uint32(vals[1])+8) != "bc" {
		t.Errorf("flat record args %v", vals)
	}
}

// A failure lowered by the glue lifts back unchanged (the lift side uses
// the same sequential source as the real result lifting).
func TestFailureRoundTrip(t *testing.T) {
	// The generated lift, converted back by field name.
	liftFailure := func(s *source) Failure {
		w := liftWitFailure(s)
		f := Failure{GRPCCode: w.GrpcCode, Signal: w.Signal, ErrorCode: w.ErrorCode, Message: w.Message}
		if len(w.ErrorTypes) > 0 {
			f.ErrorTypes = w.ErrorTypes
		}
		if w.HttpStatus != nil {
			f.HTTPStatus = new(int(*w.HttpStatus))
		}
		if w.ExitCode != nil {
			f.ExitCode = new(int(*w.ExitCode))
		}
		return f
	}
	for _, f := range []Failure{
		{},
		{HTTPStatus: new(65535), GRPCCode: new(""), ExitCode: new(-2147483648), Signal: new("9"),
			ErrorTypes: []string{"", "日本"}, ErrorCode: new("SlowDown"), Message: new(strings.Repeat("x", 1000))},
	} {
		b := newBump(8192)
		w := b.writer()
		p := w.allocate(failureT.size, failureT.align)
		lowerFailure(&memSink{w: w, ptr: p}, &f)
		if w.err != nil {
			t.Fatal(w.err)
		}
		r := &reader{mem: b.mem}
		got := liftFailure(&source{r: r, ptr: p})
		if r.err != nil {
			t.Fatal(r.err)
		}
		if !reflect.DeepEqual(got, f) {
			t.Errorf("round trip: got %+v, want %+v", got, f)
		}
	}
}

// putStr places s at data and a (ptr, len) pair at p, by hand.
func putStr(m fakeMem, p, data uint32, s string) {
	copy(m[data:], s)
	binary.LittleEndian.PutUint32(m[p:], data)
	binary.LittleEndian.PutUint32(m[p+4:], uint32(len(s)))
}

// Results laid out by hand from the canonical ABI's rules, not by the glue.
func TestLiftHandBuiltResults(t *testing.T) {
	m := make(fakeMem, 512)
	// result<classification, policy-error>, ok: disc@0, payload@4:
	// class@4, option<string>@8 (disc@8, string@12), reason@20.
	m[0] = 0
	m[4] = 1 // permanent
	m[8] = 1
	putStr(m, 12, 200, "rule-a")
	putStr(m, 20, 220, "why")
	r := &reader{mem: m}
	c, perr := liftClassifyResult(&source{r: r})
	if r.err != nil || perr != nil {
		t.Fatal(r.err, perr)
	}
	if want := (Classification{Class: Permanent, Rule: "rule-a", Reason: "why"}); c != want {
		t.Errorf("got %+v, want %+v", c, want)
	}

	// result<classification, policy-error>, err: policy-error@4:
	// code@4, message@8, path@16, option<location>@24 (disc@24, line@28, column@32).
	m = make(fakeMem, 512)
	m[0] = 1
	m[4] = 10 // invalid-failure
	putStr(m, 8, 300, "bad")
	putStr(m, 16, 320, "failure.signal")
	m[24] = 1
	binary.LittleEndian.PutUint32(m[28:], 3)
	binary.LittleEndian.PutUint32(m[32:], 14)
	r = &reader{mem: m}
	_, perr = liftClassifyResult(&source{r: r})
	want := &PolicyError{Code: CodeInvalidFailure, Message: "bad", Path: "failure.signal", Line: 3, Column: 14}
	if r.err != nil || !reflect.DeepEqual(perr, want) {
		t.Errorf("got %+v (%v), want %+v", perr, r.err, want)
	}

	// result<u32, list<policy-error>>: ok handle@4; err list (ptr, len)@4
	// of 32-byte policy-errors.
	m = make(fakeMem, 512)
	binary.LittleEndian.PutUint32(m[4:], 42)
	r = &reader{mem: m}
	if h, le := liftLoadResult(&source{r: r}); h != 42 || le != nil || r.err != nil {
		t.Errorf("ok: %d %v %v", h, le, r.err)
	}
	m[0] = 1
	binary.LittleEndian.PutUint32(m[4:], 64)
	binary.LittleEndian.PutUint32(m[8:], 2)
	m[64] = 0 // syntax, no location
	putStr(m, 68, 400, "one")
	putStr(m, 76, 410, "")
	m[96] = 6 // duplicate-id
	putStr(m, 100, 420, "two")
	putStr(m, 108, 430, "classify.rules[1].id")
	m[116] = 1
	binary.LittleEndian.PutUint32(m[120:], 5)
	binary.LittleEndian.PutUint32(m[124:], 1)
	r = &reader{mem: m}
	_, le := liftLoadResult(&source{r: r})
	wantErrs := []*PolicyError{
		{Code: CodeSyntax, Message: "one"},
		{Code: CodeDuplicateID, Message: "two", Path: "classify.rules[1].id", Line: 5, Column: 1},
	}
	if r.err != nil || le == nil || !reflect.DeepEqual(le.Errors, wantErrs) {
		t.Errorf("got %+v (%v)", le, r.err)
	}
}

// A misbehaving guest's results become errors, never panics or garbage.
func TestLiftRejectsMalformedResults(t *testing.T) {
	tests := []struct {
		name  string
		build func(m fakeMem)
	}{
		{"result discriminant out of range", func(m fakeMem) { m[0] = 2 }},
		{"enum out of range", func(m fakeMem) { m[4] = 3 }},
		{"option discriminant out of range", func(m fakeMem) { m[8] = 2 }},
		{"string out of bounds", func(m fakeMem) { putStr(m, 20, 250, "x"); binary.LittleEndian.PutUint32(m[24:], 1000) }},
		{"string length overflows", func(m fakeMem) {
			binary.LittleEndian.PutUint32(m[20:], 0xffffffff)
			binary.LittleEndian.PutUint32(m[24:], 2)
		}},
		{"invalid UTF-8", func(m fakeMem) { putStr(m, 20, 200, "\xff\xfe") }},
		{"return area out of bounds", nil},
	}
	// Loads through the memory interface, and slices of one view of all of
	// memory (as instance.call reads a result) fail alike.
	readers := []struct {
		name string
		of   func(m fakeMem) *reader
	}{
		{"Read", func(m fakeMem) *reader { return &reader{mem: m} }},
		{"view", viewReader},
	}
	for _, rd := range readers {
		for _, tt := range tests {
			m := make(fakeMem, 256)
			start := uint32(0)
			if tt.build != nil {
				tt.build(m)
			} else {
				start = 250
			}
			r := rd.of(m)
			liftClassifyResult(&source{r: r, ptr: start})
			if !errors.Is(r.err, errABI) {
				t.Errorf("%s (%s): got %v, want an ABI error", tt.name, rd.name, r.err)
			}
		}
	}

	lists := []struct {
		name     string
		ptr, len uint32
	}{
		{"list out of bounds", 64, 100},
		{"list length overflows", 64, 0x10000000},
		{"list misaligned", 66, 1},
	}
	for _, rd := range readers {
		for _, tt := range lists {
			m := make(fakeMem, 256)
			m[0] = 1
			binary.LittleEndian.PutUint32(m[4:], tt.ptr)
			binary.LittleEndian.PutUint32(m[8:], tt.len)
			r := rd.of(m)
			liftLoadResult(&source{r: r})
			if !errors.Is(r.err, errABI) {
				t.Errorf("%s (%s): got %v, want an ABI error", tt.name, rd.name, r.err)
			}
		}
	}
}

func TestWriterRejectsBadAllocations(t *testing.T) {
	m := make(fakeMem, 64)
	tests := []struct {
		name  string
		alloc allocator
		want  error
	}{
		{"misaligned", func(size, align uint32) (uint32, error) { return 2, nil }, errABI},
		{"out of bounds", func(size, align uint32) (uint32, error) { return 60, nil }, errABI},
		{"guest failure", func(size, align uint32) (uint32, error) { return 0, context.Canceled }, context.Canceled},
	}
	for _, tt := range tests {
		w := &writer{mem: m, alloc: tt.alloc}
		lowerArgs(w, classifyFn, func(s sink) {
			s.int(u32T, 1)
			lowerFailure(s, &Failure{Message: new("x")})
		})
		if !errors.Is(w.err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, w.err, tt.want)
		}
	}
}
