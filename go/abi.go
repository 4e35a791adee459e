package backstop

// This file is a small, generic implementation of the component model's
// canonical ABI (design/mvp/CanonicalABI.md in WebAssembly/component-model),
// enough for the WIT types Backstop uses: integers, bool, string (utf8),
// list, record, and variants (which also covers enum, option and result).
// wit_gen.go (generated from the WIT) composes these into the contract's
// types and functions.
// wazero runs core modules only, so this is what turns Go values into the
// bytes and core values the guest's exports expect, and back.
//
// Not supported (the WIT avoids them): floats, char, flags, resources,
// and futures or streams. Variant flattening only joins integer slots (an i32
// payload in an i64 slot is zero-extended), which is exact for every type
// above.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"
)

// Limits from the canonical ABI: a function whose parameters flatten to more
// than maxFlatParams core values takes one pointer to them instead, and one
// whose results flatten to more than maxFlatResults returns a pointer to a
// return area the guest owns until its post-return function runs.
const (
	maxFlatParams  = 16
	maxFlatResults = 1
)

type kind uint8

const (
	kindU8 kind = iota
	kindU16
	kindU32
	kindS32
	kindU64
	kindS8
	kindS16
	kindS64
	kindBool
	kindString
	kindList
	kindRecord
	kindVariant
)

// abiType describes a WIT type: its memory layout and its flattening.
// Build values with the constructors below; they compute the layout once.
type abiType struct {
	kind   kind
	elem   *abiType   // list element
	fields []*abiType // record fields, in order
	cases  []*abiType // variant cases; nil for a case without payload

	size, align uint32
	offsets     []uint32 // record: offset of each field
	discSize    uint32   // variant: bytes of the discriminant
	payloadOff  uint32   // variant: offset of the payload
	flat        []api.ValueType
}

var (
	u8T     = &abiType{kind: kindU8, size: 1, align: 1, flat: []api.ValueType{api.ValueTypeI32}}
	u16T    = &abiType{kind: kindU16, size: 2, align: 2, flat: []api.ValueType{api.ValueTypeI32}}
	u32T    = &abiType{kind: kindU32, size: 4, align: 4, flat: []api.ValueType{api.ValueTypeI32}}
	s32T    = &abiType{kind: kindS32, size: 4, align: 4, flat: []api.ValueType{api.ValueTypeI32}}
	u64T    = &abiType{kind: kindU64, size: 8, align: 8, flat: []api.ValueType{api.ValueTypeI64}}
	s8T     = &abiType{kind: kindS8, size: 1, align: 1, flat: []api.ValueType{api.ValueTypeI32}}
	s16T    = &abiType{kind: kindS16, size: 2, align: 2, flat: []api.ValueType{api.ValueTypeI32}}
	s64T    = &abiType{kind: kindS64, size: 8, align: 8, flat: []api.ValueType{api.ValueTypeI64}}
	boolT   = &abiType{kind: kindBool, size: 1, align: 1, flat: []api.ValueType{api.ValueTypeI32}}
	stringT = &abiType{kind: kindString, size: 8, align: 4, flat: []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}}
)

func listOf(elem *abiType) *abiType {
	return &abiType{kind: kindList, elem: elem, size: 8, align: 4,
		flat: []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}}
}

func recordOf(fields ...*abiType) *abiType {
	t := &abiType{kind: kindRecord, fields: fields, align: 1}
	for _, f := range fields {
		t.size = alignTo(t.size, f.align)
		t.offsets = append(t.offsets, t.size)
		t.size += f.size
		t.align = max(t.align, f.align)
		t.flat = append(t.flat, f.flat...)
	}
	t.size = alignTo(t.size, t.align)
	return t
}

func variantOf(cases ...*abiType) *abiType {
	if len(cases) == 0 {
		panic("backstop: a variant needs at least one case")
	}
	t := &abiType{kind: kindVariant, cases: cases}
	switch n := len(cases); {
	case n <= 1<<8:
		t.discSize = 1
	case n <= 1<<16:
		t.discSize = 2
	default:
		t.discSize = 4
	}
	caseAlign, caseSize := uint32(1), uint32(0)
	var payload []api.ValueType
	for _, c := range cases {
		if c == nil {
			continue
		}
		caseAlign = max(caseAlign, c.align)
		caseSize = max(caseSize, c.size)
		for i, ft := range c.flat {
			if i < len(payload) {
				payload[i] = join(payload[i], ft)
			} else {
				payload = append(payload, ft)
			}
		}
	}
	t.align = max(t.discSize, caseAlign)
	t.payloadOff = alignTo(t.discSize, caseAlign)
	t.size = alignTo(t.payloadOff+caseSize, t.align)
	t.flat = append([]api.ValueType{api.ValueTypeI32}, payload...)
	return t
}

func optionOf(t *abiType) *abiType       { return variantOf(nil, t) }
func resultOf(ok, err *abiType) *abiType { return variantOf(ok, err) }
func enumOf(n int) *abiType              { return variantOf(make([]*abiType, n)...) }
func alignTo(n, align uint32) uint32     { return (n + align - 1) / align * align }

// boolBits is a bool as the canonical ABI stores it.
func boolBits(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// join merges two cases' core types in one flat slot (CanonicalABI.md's join).
func join(a, b api.ValueType) api.ValueType {
	if a == b {
		return a
	}
	if (a == api.ValueTypeI32 && b == api.ValueTypeF32) || (a == api.ValueTypeF32 && b == api.ValueTypeI32) {
		return api.ValueTypeI32
	}
	return api.ValueTypeI64
}

// witFunc is the signature of one exported WIT function.
type witFunc struct {
	iface  string     // the exporting interface, e.g. "backstop:policy/classifier@0.1.0"
	name   string     // WIT name, e.g. "load-policy"
	params []*abiType // in order
	result *abiType   // nil for no result
	args   *abiType   // the parameters as one record, for indirect lowering
}

// newWitFunc describes a function of the classifier interface; see in.
func newWitFunc(name string, result *abiType, params ...*abiType) *witFunc {
	return &witFunc{iface: classifierInterface, name: name, params: params, result: result, args: recordOf(params...)}
}

// in sets the interface that exports f.
func (f *witFunc) in(iface string) *witFunc {
	f.iface = iface
	return f
}

// indirectParams reports whether the parameters travel in memory.
func (f *witFunc) indirectParams() bool { return len(f.args.flat) > maxFlatParams }

// indirectResult reports whether the result comes back through a return area.
func (f *witFunc) indirectResult() bool {
	return f.result != nil && len(f.result.flat) > maxFlatResults
}

// coreSignature is the core function type the canonical ABI gives f.
func (f *witFunc) coreSignature() (params, results []api.ValueType) {
	params = f.args.flat
	if f.indirectParams() {
		params = []api.ValueType{api.ValueTypeI32}
	}
	switch {
	case f.result == nil:
	case f.indirectResult():
		results = []api.ValueType{api.ValueTypeI32}
	default:
		results = f.result.flat
	}
	return params, results
}

// checkSignature verifies a module's export has the signature f implies,
// so a rebuilt guest with a changed WIT fails loudly at New, not at a call.
func (f *witFunc) checkSignature(def api.FunctionDefinition) error {
	params, results := f.coreSignature()
	if !equalTypes(params, def.ParamTypes()) || !equalTypes(results, def.ResultTypes()) {
		return fmt.Errorf("backstop: export %q has core type %s -> %s; the canonical ABI for the WIT gives %s -> %s",
			def.ExportNames(), typeNames(def.ParamTypes()), typeNames(def.ResultTypes()),
			typeNames(params), typeNames(results))
	}
	return nil
}

func equalTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func typeNames(ts []api.ValueType) []string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = api.ValueTypeName(t)
	}
	return names
}

// errABI reports that the guest broke the canonical ABI (a pointer out of
// bounds, bad alignment, an unknown discriminant, invalid UTF-8). The
// instance is no longer trusted after this.
var errABI = errors.New("canonical ABI violation")

// memory is the part of api.Memory the glue needs: Read returns a
// write-through view, so it serves for both loads and stores.
type memory interface {
	Read(offset, byteCount uint32) ([]byte, bool)
}

// allocator is cabi_realloc(0, 0, align, size).
type allocator func(size, align uint32) (uint32, error)

// writer stores values into guest memory. Errors are sticky, so lowering
// code stays linear and checks once at the end.
//
// The generated storeWit* functions store a value in two passes: allocWit*
// copies its strings and lists into the guest (calls to cabi_realloc, which
// may grow linear memory and so move it), queueing each one's (ptr, len) on
// spans; then putWit* writes the whole value into one view of its bytes,
// taken after those calls, at constant offsets, storing the queued pairs in
// the same order. A list's elements are written the same way as soon as
// their own allocations are done, so the allocations happen in the order
// the fields and elements come, as when storing field by field.
type writer struct {
	mem   memory
	alloc allocator
	err   error
	sinks []memSink // see sinkAt
	spans []span    // queued by pushString and allocWitList*
	next  int       // the first of spans that putSpan has not stored
}

// span is where a string or list lives in the guest: its (ptr, len).
type span struct{ ptr, n uint32 }

// pushString copies s into the guest and queues its span.
func (w *writer) pushString(s string) {
	p, n := storeString(w, s)
	w.spans = append(w.spans, span{p, n})
}

// putSpan stores the next queued span, as a (ptr, len) pair, in b.
func (w *writer) putSpan(b []byte) {
	s := w.spans[w.next]
	w.next++
	binary.LittleEndian.PutUint32(b[:4], s.ptr)
	binary.LittleEndian.PutUint32(b[4:8], s.n)
}

// at returns the n writable bytes at p for a putWit* function, whose
// strings and lists were queued from spans[mark] on; nil after an error.
func (w *writer) at(p, n uint32, mark int) []byte {
	w.next = mark
	return w.view(p, n)
}

// slabChunk is how many glue cursors (memSinks, sources) one allocation
// holds. Each cursor handed through an interface or returned would
// otherwise be an allocation of its own; chunks are never reused, so
// cursors never alias.
const slabChunk = 64

// sinkAt returns a memSink storing at ptr.
func (w *writer) sinkAt(ptr uint32) *memSink {
	if len(w.sinks) == 0 {
		w.sinks = make([]memSink, slabChunk)
	}
	m := &w.sinks[0]
	w.sinks = w.sinks[1:]
	m.w, m.ptr = w, ptr
	return m
}

func (w *writer) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

// allocate reserves size bytes aligned to align in the guest.
func (w *writer) allocate(size, align uint32) uint32 {
	if w.err != nil {
		return 0
	}
	p, err := w.alloc(size, align)
	if err != nil {
		w.fail(err)
		return 0
	}
	if p%align != 0 {
		w.fail(fmt.Errorf("%w: cabi_realloc returned %#x, not aligned to %d", errABI, p, align))
		return 0
	}
	if _, ok := w.mem.Read(p, size); !ok {
		w.fail(fmt.Errorf("%w: cabi_realloc returned %#x, %d bytes past it are out of bounds", errABI, p, size))
		return 0
	}
	return p
}

// view returns n writable bytes at p, or nil after an error.
func (w *writer) view(p, n uint32) []byte {
	if w.err != nil {
		return nil
	}
	b, ok := w.mem.Read(p, n)
	if !ok {
		w.fail(fmt.Errorf("%w: store of %d bytes at %#x is out of bounds", errABI, n, p))
		return nil
	}
	return b
}

// sink receives a value being lowered, either into memory (memSink) or onto
// the core value stack (flatSink). Lowering code is written once against it,
// which is how one function lowers both flat and indirect parameters. The
// calls whose parameters travel in memory use the generated stores instead
// (see writer and instance.callStore), which write a record at constant
// offsets rather than through an interface call per field. No
// method takes a callback: a closure handed through an interface escapes,
// and lowering a failure took a dozen allocations that way.
//
// int stores any integer-like type (u8-u64, s32 as its two's complement,
// bool as 0 or 1, a discriminant): v is truncated to t's width. list stores
// a list of n elems and returns the sink its elements are lowered into, in
// order; record returns the sink its fields are lowered into, in order.
// variant stores case c of t and returns the sink its payload (if any) is
// lowered into; end(t, mark) must follow the payload.
type sink interface {
	int(t *abiType, v uint64)
	string(s string)
	list(elem *abiType, n int) sink
	variant(t *abiType, c uint32) (payload sink, mark int)
	end(t *abiType, mark int)
	record(t *abiType) sink
}

// memSink stores values sequentially from ptr, aligning each as the
// canonical ABI's store() does.
type memSink struct {
	w   *writer
	ptr uint32
}

// next reserves room for a t at the cursor and returns its address.
func (m *memSink) next(t *abiType) uint32 {
	m.ptr = alignTo(m.ptr, t.align)
	p := m.ptr
	m.ptr += t.size
	return p
}

func (m *memSink) int(t *abiType, v uint64) {
	m.store(m.next(t), t.size, v)
}

// store writes the low size bytes of v at p.
func (m *memSink) store(p, size uint32, v uint64) {
	b := m.w.view(p, size)
	if b == nil {
		return
	}
	switch size {
	case 1:
		b[0] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(b, uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(b, uint32(v))
	default:
		binary.LittleEndian.PutUint64(b, v)
	}
}

func (m *memSink) pair(p, a, b uint32) {
	if v := m.w.view(p, 8); v != nil {
		binary.LittleEndian.PutUint32(v, a)
		binary.LittleEndian.PutUint32(v[4:], b)
	}
}

func (m *memSink) string(s string) {
	p := m.next(stringT)
	data, n := storeString(m.w, s)
	m.pair(p, data, n)
}

func (m *memSink) list(elem *abiType, n int) sink {
	p := m.next(stringT) // a list's (ptr, len) has a string's layout
	data, count := allocList(m.w, elem, n)
	m.pair(p, data, count)
	return m.w.sinkAt(data)
}

func (m *memSink) variant(t *abiType, c uint32) (sink, int) {
	start := m.next(t)
	m.store(start, t.discSize, uint64(c))
	return m.w.sinkAt(start + t.payloadOff), 0
}

// end: next reserved the whole variant already.
func (m *memSink) end(*abiType, int) {}

func (m *memSink) record(t *abiType) sink {
	return m.w.sinkAt(m.next(t))
}

// flatSink pushes flattened core values, as the canonical ABI's lower_flat().
type flatSink struct {
	w    *writer
	vals []uint64
}

// int pushes v as its core value: i32 types travel as the low 32 bits
// (wazero's encoding of an i32), u64 as all 64.
func (f *flatSink) int(t *abiType, v uint64) {
	if t.size <= 4 {
		v = uint64(uint32(v))
	}
	f.vals = append(f.vals, v)
}

func (f *flatSink) string(s string) {
	data, n := storeString(f.w, s)
	f.vals = append(f.vals, uint64(data), uint64(n))
}

func (f *flatSink) list(elem *abiType, n int) sink {
	data, count := allocList(f.w, elem, n)
	f.vals = append(f.vals, uint64(data), uint64(count))
	return f.w.sinkAt(data)
}

// variant pushes the discriminant; the payload follows it, and end pads
// a case with a shorter (or no) payload with zeros to the variant's width.
func (f *flatSink) variant(t *abiType, c uint32) (sink, int) {
	f.vals = append(f.vals, uint64(c))
	return f, len(f.vals) + len(t.flat) - 1
}

func (f *flatSink) end(_ *abiType, mark int) {
	for len(f.vals) < mark {
		f.vals = append(f.vals, 0)
	}
}

func (f *flatSink) record(*abiType) sink { return f }

func discType(t *abiType) *abiType {
	switch t.discSize {
	case 1:
		return u8T
	case 2:
		return u16T
	default:
		return u32T
	}
}

// emptyPtr is where an empty string or list "lives": a non-null, aligned
// address, as Rust uses for empty allocations. The canonical ABI would call
// cabi_realloc for zero bytes, but a zero-sized allocation holds nothing and
// guests never free one (wit-bindgen's cabi_dealloc returns at size 0), so
// skipping it saves a guest call per empty value.
func emptyPtr(align uint32) uint32 { return align }

// storeString copies s into a fresh guest allocation (utf8, alignment 1).
// Callers pass valid UTF-8; the guest trusts it.
func storeString(w *writer, s string) (ptr, n uint32) {
	if uint64(len(s)) > 1<<31-1 {
		w.fail(fmt.Errorf("%w: a %d-byte string does not fit in guest memory", errABI, len(s)))
		return 0, 0
	}
	n = uint32(len(s))
	if n == 0 {
		return emptyPtr(1), 0
	}
	ptr = w.allocate(n, 1)
	if b := w.view(ptr, n); b != nil {
		copy(b, s)
	}
	return ptr, n
}

// allocList reserves a list of n elems in the guest; its elements are
// then stored one after another from the address it returns.
func allocList(w *writer, elem *abiType, n int) (ptr, count uint32) {
	if uint64(n)*uint64(elem.size) > 1<<31-1 {
		w.fail(fmt.Errorf("%w: a %d-element list does not fit in guest memory", errABI, n))
		return 0, 0
	}
	if n == 0 {
		return emptyPtr(elem.align), 0
	}
	return w.allocate(uint32(n)*elem.size, elem.align), uint32(n)
}

// reader loads values from guest memory with sticky errors; every load is
// bounds-checked, since the guest's pointers are not trusted. The generated
// lifts (liftWit*In in wit_gen.go) take one view of a value's bytes and
// read its fields at constant offsets; the reader checks what they cannot:
// discriminants, and the pointers and lengths of strings and lists.
type reader struct {
	mem memory
	// buf, when set, is all of mem: loads slice it instead of calling Read.
	// Linear memory cannot grow while a result is lifted (no guest code
	// runs), but it can between calls, so buf is set for one result only.
	buf     []byte
	err     error
	sources []source // see at
	// strs interns short strings: the rule names, reasons and codes that
	// results repeat are copied out of the guest once, not per result.
	strs map[string]string
}

// Interning limits: strings up to internMaxLen bytes, up to internMax of them.
const (
	internMaxLen = 32
	internMax    = 256
)

// at returns a source loading from ptr (from a chunk; see slabChunk).
func (r *reader) at(ptr uint32) *source {
	if len(r.sources) == 0 {
		r.sources = make([]source, slabChunk)
	}
	s := &r.sources[0]
	r.sources = r.sources[1:]
	s.r, s.ptr = r, ptr
	return s
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{errABI}, args...)...)
	}
}

// bytes returns the n bytes at p, or nil after an error.
func (r *reader) bytes(p, n uint32) []byte {
	if r.err != nil {
		return nil
	}
	if r.buf != nil {
		if end := uint64(p) + uint64(n); end <= uint64(len(r.buf)) {
			return r.buf[p:end]
		}
	} else if b, ok := r.mem.Read(p, n); ok {
		return b
	}
	r.fail("load of %d bytes at %#x is out of bounds", n, p)
	return nil
}

// disc checks that case c, loaded at p, is one of a variant's n cases.
// It returns 0 for one that is not, after failing.
func (r *reader) disc(c, n, p uint32) uint32 {
	if c >= n {
		r.fail("discriminant %d at %#x is not one of %d cases", c, p, n)
		return 0
	}
	return c
}

// string copies out the guest string whose (ptr, len) pair b holds; the
// guest may free it afterwards.
func (r *reader) string(b []byte) string {
	p, n := binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:])
	data := r.bytes(p, n)
	if data == nil {
		return ""
	}
	short := len(data) <= internMaxLen
	if short {
		if s, ok := r.strs[string(data)]; ok { // no copy: the compiler looks up data in place
			return s
		}
	}
	if !utf8.Valid(data) {
		r.fail("string at %#x is not valid UTF-8", p)
		return ""
	}
	s := string(data)
	if short && len(r.strs) < internMax {
		if r.strs == nil {
			r.strs = make(map[string]string)
		}
		r.strs[s] = s
	}
	return s
}

// list checks the list of elems whose (ptr, len) pair b holds, and returns
// its address, its length and its elements' bytes (0, 0, nil after an
// error). Element i is at p+i*elem.size, elems[i*elem.size:].
func (r *reader) list(b []byte, elem *abiType) (p, n uint32, elems []byte) {
	p, n = binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:])
	if r.err != nil {
		return 0, 0, nil
	}
	if p%elem.align != 0 {
		r.fail("list at %#x is not aligned to %d", p, elem.align)
		return 0, 0, nil
	}
	size := uint64(n) * uint64(elem.size)
	if size > 1<<32-1 {
		r.fail("list of %d elements at %#x is out of bounds", n, p)
		return 0, 0, nil
	}
	if elems = r.bytes(p, uint32(size)); elems == nil {
		r.err = nil // the message below names the list
		r.fail("list of %d elements at %#x is out of bounds", n, p)
		return 0, 0, nil
	}
	return p, n, elems
}

// source loads values sequentially from ptr, mirroring memSink: the
// generated liftWit* functions take one, lift a value at its (aligned)
// cursor and advance it.
type source struct {
	r   *reader
	ptr uint32
}

func (s *source) next(t *abiType) uint32 {
	s.ptr = alignTo(s.ptr, t.align)
	p := s.ptr
	s.ptr += t.size
	return p
}

// int loads an unsigned integer of t's width (zero-extended).
func (s *source) int(t *abiType) uint64 {
	b := s.r.bytes(s.next(t), t.size)
	if b == nil {
		return 0
	}
	switch t.size {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	default:
		return binary.LittleEndian.Uint64(b)
	}
}

func (s *source) u32() uint32 { return uint32(s.int(u32T)) }
func (s *source) u64() uint64 { return s.int(u64T) }

// string loads a string.
func (s *source) string() string {
	b := s.r.bytes(s.next(stringT), 8)
	if b == nil {
		return ""
	}
	return s.r.string(b)
}

// list calls each with a source positioned at every element in turn.
func (s *source) list(elem *abiType, each func(s *source, i int)) {
	b := s.r.bytes(s.next(stringT), 8) // a list's (ptr, len) has a string's layout
	if b == nil {
		return
	}
	p, n, _ := s.r.list(b, elem)
	for i := uint32(0); i < n && s.r.err == nil; i++ {
		each(s.r.at(p+i*elem.size), int(i))
	}
}

// record returns a source at the record's first field.
func (s *source) record(t *abiType) *source {
	return s.r.at(s.next(t))
}

// variant returns the case index and a source at the payload.
func (s *source) variant(t *abiType) (uint32, *source) {
	start := s.next(t)
	c := uint32((&source{r: s.r, ptr: start}).int(discType(t)))
	if s.r.err == nil && c >= uint32(len(t.cases)) {
		s.r.fail("discriminant %d at %#x is not one of %d cases", c, start, len(t.cases))
		return 0, s.r.at(0)
	}
	return c, s.r.at(start + t.payloadOff)
}

// lowerArgs lowers a call's parameters: flat onto the core stack, or, when
// they flatten to more than maxFlatParams values, into one allocation whose
// address is the only core argument.
func lowerArgs(w *writer, f *witFunc, params func(s sink)) []uint64 {
	return lowerArgsInto(w, &flatSink{vals: make([]uint64, 0, len(f.args.flat))}, f, params)
}

// lowerArgsInto is lowerArgs reusing fs (its vals are overwritten).
func lowerArgsInto(w *writer, fs *flatSink, f *witFunc, params func(s sink)) []uint64 {
	fs.w, fs.vals = w, fs.vals[:0]
	if !f.indirectParams() {
		params(fs)
		return fs.vals
	}
	p := w.allocate(f.args.size, f.args.align)
	params(w.sinkAt(p))
	return append(fs.vals, uint64(p))
}

// flatResultMem holds a result that flattens to one core value, so it is
// lifted by the same loaders as a return area. Such a result is an integer,
// a bool, an enum, or a record or variant holding only one of those, and in
// each case its memory layout is that value, little-endian, at offset 0
// (truncated to the type's width, as the canonical ABI's lift_flat does).
func flatResultMem(v uint64) memory {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	return scratch(b[:])
}

// scratch is host-side memory for the glue's own use.
type scratch []byte

func (m scratch) Read(off, n uint32) ([]byte, bool) {
	if uint64(off)+uint64(n) > uint64(len(m)) {
		return nil, false
	}
	return m[off : off+n], true
}
