package backstop

// Secret redaction through the guest's redaction interface, so a Go worker
// redacts exactly as every other host.

import (
	"context"
	"strings"
)

// Redacted is what replaces each secret.
const Redacted = "[REDACTED]"

// RuleCount says how many secrets one rule replaced (never the values).
type RuleCount struct {
	Rule  string `json:"rule"`
	Count uint32 `json:"count"`
}

// RedactionReport is a redacted text and what was redacted in it.
type RedactionReport struct {
	// Text has each secret replaced by [REDACTED] (and ANSI escape sequences removed).
	Text string `json:"text"`
	// Redactions lists the rules that redacted something, in rule order.
	Redactions []RuleCount `json:"redactions"`
}

// Total is how many secrets were replaced in all.
func (r RedactionReport) Total() uint64 {
	var n uint64
	for _, c := range r.Redactions {
		n += uint64(c.Count)
	}
	return n
}

// Redact replaces every secret in text with [REDACTED]: the built-in rules
// (drawn from gitleaks, trufflehog and GitHub secret scanning) plus the
// policy's [redaction] patterns and allow-list. Redact a whole log tail
// before splitting or clipping it: a PEM block spans lines. Invalid UTF-8 is
// replaced with U+FFFD first, as the guest takes only valid strings. A text
// over 8 MiB is refused with a *PolicyError (CodeTooLarge).
func (p *Policy) Redact(ctx context.Context, text string) (RedactionReport, error) {
	text = strings.ToValidUTF8(text, "\uFFFD")
	var r RedactionReport
	err := p.run(ctx, func(inst *instance, h uint32) (err error) {
		r, err = inst.redact(ctx, h, text)
		return err
	})
	return r, err
}

func (in *instance) redact(ctx context.Context, handle uint32, text string) (RedactionReport, error) {
	return plannerCall(ctx, in, redactFn, func(s sink) {
		s.int(u32T, uint64(handle))
		s.string(text)
	}, liftRedactionReport)
}

func liftRedactionReport(s *source) RedactionReport {
	r := s.record(redactionReportT)
	report := RedactionReport{Redactions: []RuleCount{}}
	report.Text = r.string()
	r.list(ruleCountT, func(s *source, _ int) {
		c := s.record(ruleCountT)
		rule := c.string()
		report.Redactions = append(report.Redactions, RuleCount{Rule: rule, Count: c.u32()})
	})
	return report
}
