package backstop

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		value string
		want  time.Duration
		ok    bool
	}{
		{"120", 120 * time.Second, true},
		{" 0 ", 0, true},
		{"1.5", 0, false}, // delay-seconds is 1*DIGIT
		{"+5", 0, false},
		{"-5", 0, false},
		{"", 0, false},
		{"soon", 0, false},
		{"Wed, 01 Jan 2025 12:00:30 GMT", 30 * time.Second, true},
		{"Wednesday, 01-Jan-25 12:00:30 GMT", 30 * time.Second, true}, // RFC 850
		{"Wed Jan  1 12:00:30 2025", 30 * time.Second, true},          // asctime
		{"Wed, 01 Jan 2025 11:00:00 GMT", 0, true},                    // past: now
		{"wed, 01 jan 2025 12:00:30 GMT", 0, false},                   // case matters
		{"Thu, 01 Jan 2025 12:00:30 GMT", 0, false},                   // wrong weekday
		{"Wed, 01 Jan 2025 12:00:30 +0000", 0, false},
		{"Wednesday, 01-Jan-25 12:00:30 PST", 0, false},
		{"Wed, 31 Feb 2025 12:00:30 GMT", 0, false},
		{"2025-01-01T12:00:30Z", 0, false},
		{"99999999999999999999999", time.Duration(1<<63-1) / time.Second * time.Second, true},
	} {
		got, ok := ParseRetryAfter(c.value, now)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", c.value, got, ok, c.want, c.ok)
		}
	}
}

func TestParseGRPCPushback(t *testing.T) {
	for value, want := range map[string]time.Duration{
		"250": 250 * time.Millisecond, "0": 0, "-1": Never, "soon": Never, "1.5": Never, "": Never,
	} {
		if got := ParseGRPCPushback(value); got != want {
			t.Errorf("ParseGRPCPushback(%q) = %v, want %v", value, got, want)
		}
	}
}

func TestPushbackFromHeader(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	h := http.Header{}
	if _, ok := PushbackFromHeader(h, now); ok {
		t.Error("an empty header has pushback")
	}
	h.Set("Grpc-Retry-Pushback-Ms", "-1")
	if d, ok := PushbackFromHeader(h, now); !ok || d != Never {
		t.Errorf("negative gRPC pushback: %v %v, want Never", d, ok)
	}
	h.Set("Retry-After", "later") // unusable: the next source counts
	if d, _ := PushbackFromHeader(h, now); d != Never {
		t.Errorf("got %v", d)
	}
	h.Set("Retry-After", "3")
	if d, _ := PushbackFromHeader(h, now); d != 3*time.Second {
		t.Errorf("got %v", d)
	}
	h.Set("Retry-After-Ms", "1234")
	if d, _ := PushbackFromHeader(h, now); d != 1234*time.Millisecond {
		t.Errorf("got %v", d)
	}
}
