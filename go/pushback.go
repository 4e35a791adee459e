package backstop

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Server pushback: HTTP Retry-After (RFC 9110 section 10.2.3) and gRPC's
// grpc-retry-pushback-ms (gRPC A6). Every Backstop host maps the same header
// text to the same wait (tests/helpers/*.json).

// Never is the pushback of a server that asked not to retry at all (a
// negative or unparseable grpc-retry-pushback-ms, gRPC A6). Do gives up with
// GiveUpPushbackBeyondDeadline when an error's RetryAfter() returns it,
// unless the planner gives up for a reason of its own first.
const Never time.Duration = math.MaxInt64

// ParseRetryAfter reads a Retry-After value: RFC 9110's delay-seconds
// (digits only) or HTTP-date (IMF-fixdate, or the obsolete RFC 850 and
// asctime forms, as net/http.ParseTime reads them, exactly: case, padding
// and weekday must be right), as a wait from now; a date in the past is 0.
// ok is false for anything else, fractions and signs included.
func ParseRetryAfter(value string, now time.Time) (wait time.Duration, ok bool) {
	text := strings.TrimSpace(value) // optional whitespace around a field value is not part of it
	if digitsOnly(text) {
		return secondsDuration(text), true
	}
	at, ok := parseHTTPDate(text, now)
	if !ok {
		return 0, false
	}
	wait = at.Sub(now)
	if wait < 0 {
		wait = 0
	}
	// Whole milliseconds, rounded up: a retry never comes early.
	return (wait + time.Millisecond - 1).Truncate(time.Millisecond), true
}

// ParseGRPCPushback reads a grpc-retry-pushback-ms value: the wait, or Never
// when the value is negative or unparseable ("do not retry", gRPC A6).
func ParseGRPCPushback(value string) time.Duration {
	text := strings.TrimSpace(value)
	if !digitsOnly(text) {
		return Never
	}
	ms, err := strconv.ParseUint(text, 10, 64)
	if err != nil || ms > uint64(math.MaxInt64/int64(time.Millisecond)) {
		return time.Duration(math.MaxInt64/int64(time.Millisecond)) * time.Millisecond
	}
	return time.Duration(ms) * time.Millisecond
}

// PushbackFromHeader reads a response's pushback: Retry-After-Ms (digits,
// as OpenAI and Azure send), then Retry-After, then grpc-retry-pushback-ms
// (which may be Never). ok is false when none of them is usable.
func PushbackFromHeader(h http.Header, now time.Time) (wait time.Duration, ok bool) {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); digitsOnly(v) {
		return ParseGRPCPushback(v), true
	}
	if v := h.Get("Retry-After"); v != "" {
		if d, ok := ParseRetryAfter(v, now); ok {
			return d, true
		}
	}
	if vs := h.Values("Grpc-Retry-Pushback-Ms"); len(vs) > 0 {
		return ParseGRPCPushback(vs[0]), true
	}
	return 0, false
}

func digitsOnly(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// secondsDuration is digits of seconds as a Duration, saturating.
func secondsDuration(digits string) time.Duration {
	const maxSeconds = math.MaxInt64 / int64(time.Second)
	s, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || s > maxSeconds {
		s = maxSeconds
	}
	return time.Duration(s) * time.Second
}

const (
	rfc850Layout   = "Monday, 02-Jan-06 15:04:05"
	asctimeLayout  = time.ANSIC
	asctimeZeroDay = "Mon Jan 02 15:04:05 2006"
)

// parseHTTPDate accepts exactly RFC 9110's HTTP-date: net/http.ParseTime
// does the parsing; formatting the result back must give the same text,
// which rules out what time.Parse forgives (case, a wrong weekday, zones).
func parseHTTPDate(text string, now time.Time) (time.Time, bool) {
	t, err := http.ParseTime(text)
	if err != nil {
		return time.Time{}, false
	}
	t = t.UTC()
	switch {
	case t.Format(http.TimeFormat) == text, t.Format(asctimeLayout) == text,
		t.Format(asctimeZeroDay) == text: // RFC 9110 allows "Jan 01" as well as "Jan  1"

		return t, true
	case t.Format(rfc850Layout)+" GMT" == text:
		// RFC 9110: a two-digit year more than 50 years in the future is the
		// most recent past year with those digits (Go's own rule pivots at 69).
		nowYear := now.UTC().Year()
		year := nowYear/100*100 + t.Year()%100
		if year > nowYear+50 {
			year -= 100
		}
		return t.AddDate(year-t.Year(), 0, 0), true
	}
	return time.Time{}, false
}
