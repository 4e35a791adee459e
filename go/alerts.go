package backstop

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// The escalation evaluator (the WIT's alerts interface). The guest decides
// everything: which notifications to send, which to suppress and why, the
// next alert state and when to call back. The host keeps the state (an
// opaque JSON document), delivers the notifications and keeps time.

// EventKind says what happened in a pipeline. Its values are the WIT's names.
type EventKind string

// Event kinds, in the WIT's order.
const (
	// EventAttemptFailed: one attempt of a run failed (it may still be retried).
	EventAttemptFailed EventKind = "attempt-failed"
	// EventRunFailed: a run gave up.
	EventRunFailed EventKind = "run-failed"
	// EventRunSucceeded: a run succeeded; auto-resolving alerts resolve.
	EventRunSucceeded EventKind = "run-succeeded"
	// EventRunLate: a run is late against its SLA by Event.LateMinutes.
	EventRunLate EventKind = "run-late"
	// EventAlertAcknowledged: someone acknowledged the alert Event.DedupKey.
	EventAlertAcknowledged EventKind = "alert-acknowledged"
	// EventTick: nothing happened; fire the timers (escalations, repeats)
	// that are due. Send one at Evaluation.NextWakeup.
	EventTick EventKind = "tick"
)

// Severity is an alert rule's severity. Its values are the WIT's names.
type Severity string

// Severities, least severe first.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

// NotificationKind says what a notification does to its alert, as in
// PagerDuty Events v2. Its values are the WIT's names.
type NotificationKind string

// Notification kinds, in the WIT's order.
const (
	// NotifyTrigger opens an alert.
	NotifyTrigger NotificationKind = "trigger"
	// NotifyEscalate tells the next level of the escalation chain.
	NotifyEscalate NotificationKind = "escalate"
	// NotifyRepeat re-sends an unacknowledged alert (Alertmanager's repeat_interval).
	NotifyRepeat NotificationKind = "repeat"
	// NotifyResolve closes an alert; everyone who was told is told.
	NotifyResolve NotificationKind = "resolve"
)

// SuppressionReason says why a notification was not sent. Its values are
// the WIT's names.
type SuppressionReason string

// Suppression reasons, in the WIT's order.
const (
	// SuppressedDuplicate: the same alert was sent within its dedup window.
	SuppressedDuplicate SuppressionReason = "duplicate"
	// SuppressedInhibited: a more severe firing alert inhibits it.
	SuppressedInhibited SuppressionReason = "inhibited"
	// SuppressedAcknowledged: the alert was acknowledged.
	SuppressedAcknowledged SuppressionReason = "acknowledged"
	// SuppressedRepeatLimit: the alert was repeated as often as its rule allows.
	SuppressedRepeatLimit SuppressionReason = "repeat-limit"
)

// Event is one pipeline event. Which fields matter depends on Kind:
// pipeline events (every kind but the last two) need Pipeline, Step and
// RunID; EventAlertAcknowledged needs DedupKey; EventTick needs nothing.
type Event struct {
	Kind     EventKind
	Pipeline string
	Step     string
	RunID    string
	// Failure is the failure (EventAttemptFailed, EventRunFailed), which
	// the policy classifies; nil for none. FailureFromError builds one.
	Failure *Failure
	// Attempt is the attempt number, when known (0 = unknown); 0 to
	// math.MaxUint32.
	Attempt int
	// LateMinutes is the lateness against the SLA (EventRunLate); 0 to
	// math.MaxUint32.
	LateMinutes int
	// Labels are facts the policy's conditions and grouping can use. They
	// reach the guest sorted by key, so the same event always evaluates
	// the same way.
	Labels map[string]string
	// LogLines are the last lines of output, for the runbook payload.
	// Secrets in them are redacted before they leave the evaluator.
	LogLines []string
	// DedupKey names the alert acknowledged (EventAlertAcknowledged); ""
	// for none.
	DedupKey string
}

// Notification is one notification to deliver.
type Notification struct {
	Kind     NotificationKind `json:"kind"`
	Severity Severity         `json:"severity"`
	Targets  []string         `json:"targets"`
	// Rule is the id of the alert rule that fired.
	Rule string `json:"rule"`
	// DedupKey identifies the alert across its trigger, escalations,
	// repeats and resolve (PagerDuty's dedup_key).
	DedupKey string `json:"dedup_key"`
	// Summary is one line for a chat message or a page's title.
	Summary string `json:"summary"`
	// Payload is a JSON object: the policy's payload fields plus the
	// runbook (what failed and when, correlation id, last log lines,
	// whether a retry is safe and how, the escalation path). It marshals
	// inline; DecodePayload decodes it.
	Payload json.RawMessage `json:"payload"`
}

// DecodePayload decodes the payload into v, as json.Unmarshal does; a
// map[string]any takes any payload.
func (n Notification) DecodePayload(v any) error {
	if err := json.Unmarshal(n.Payload, v); err != nil {
		return fmt.Errorf("backstop: decoding the payload of %s: %w", n.DedupKey, err)
	}
	return nil
}

// Suppressed is a notification the evaluator held back, and why.
type Suppressed struct {
	Rule     string            `json:"rule"`
	DedupKey string            `json:"dedup_key"`
	Severity Severity          `json:"severity"`
	Reason   SuppressionReason `json:"reason"`
}

// Evaluation is the evaluator's answer to one event. Its JSON form is the
// canonical one of tests/README.md, plus "state".
type Evaluation struct {
	// Notifications to deliver, in order; never nil.
	Notifications []Notification `json:"notifications"`
	// Suppressed lists what was held back; never nil.
	Suppressed []Suppressed `json:"suppressed"`
	// State is the next alert state: an opaque JSON document to store
	// (durably, so a restart does not re-page) and pass to the next call.
	State string `json:"state"`
	// NextWakeupMs is when to call back with an EventTick, in Unix
	// milliseconds; nil when no timer is pending.
	NextWakeupMs *uint64 `json:"next_wakeup_ms"`
}

// NextWakeup returns when to call back with an EventTick, and false when
// no timer is pending. Like context.Context.Deadline, it pairs a time with
// an ok flag.
func (e Evaluation) NextWakeup() (time.Time, bool) {
	if e.NextWakeupMs == nil {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(min(*e.NextWakeupMs, math.MaxInt64))), true
}

// SinkKind says how a sink delivers. Its values are the WIT's names.
type SinkKind string

// Sink kinds, in the WIT's order.
const (
	// SinkStdout: one JSON line on standard output.
	SinkStdout SinkKind = "stdout"
	// SinkFile: one JSON line appended to the file Location[0].
	SinkFile SinkKind = "file"
	// SinkWebhook: an HTTP POST to Location[0], retried by the host.
	SinkWebhook SinkKind = "webhook"
	// SinkCommand: the command Location (argv) with the JSON on its stdin.
	SinkCommand SinkKind = "command"
)

// SinkFormat is the shape of a delivered body. Its values are the WIT's names.
type SinkFormat string

// Sink formats, in the WIT's order.
const (
	// SinkFormatBackstop: the notification as is.
	SinkFormatBackstop SinkFormat = "backstop"
	// SinkFormatPagerDuty: a PagerDuty Events v2 event; the routing key comes
	// from the environment variable RoutingKeyEnv names, at delivery.
	SinkFormatPagerDuty SinkFormat = "pagerduty"
	// SinkFormatSlack: a Slack-compatible incoming-webhook message.
	SinkFormatSlack SinkFormat = "slack"
	// SinkFormatTemplate: the sink's Template, its {{field}} placeholders
	// filled from the notification.
	SinkFormatTemplate SinkFormat = "template"
)

// Sink is one of the policy's [[alerts.sinks]], validated when the policy
// loaded: where notifications for a target go. The evaluator never
// delivers; hosts do.
type Sink struct {
	// Target is the notification target it serves, or "*" for every target
	// without its own sink.
	Target string   `json:"target"`
	Kind   SinkKind `json:"kind"`
	// Location is the file path, the URL, or the command's argv; empty for
	// SinkStdout.
	Location []string   `json:"location"`
	Format   SinkFormat `json:"format"`
	// TimeoutMs is how long one delivery may take, in milliseconds.
	TimeoutMs uint64 `json:"timeout_ms"`
	// DeadLetter is where a webhook's undeliverable notifications are
	// appended; nil for the host's default.
	DeadLetter *string `json:"dead_letter"`
	// RoutingKeyEnv names the environment variable that holds a pagerduty
	// sink's routing key (never the key itself).
	RoutingKeyEnv *string `json:"routing_key_env"`
	// Template is a template sink's body as compact JSON text, keys in
	// document order.
	Template *string `json:"template"`
}

// Sinks returns the policy's sinks in document order, and false when the
// policy has no alert section at all (nothing to evaluate or deliver).
func (p *Policy) Sinks(ctx context.Context) ([]Sink, bool, error) {
	var out alertSinks
	err := p.run(ctx, func(inst *instance, h uint32) (err error) {
		out, err = inst.sinks(ctx, h)
		return err
	})
	return out.sinks, out.present, err
}

// EvaluateAlerts evaluates one event against the policy's alert rules.
// state is the previous Evaluation's State ("" for none); now is the host's
// clock, sent to the guest in Unix ms (before 1970 is an error). Carry the
// returned State to the next call, deliver its Notifications, and send an
// EventTick at NextWakeup.
//
// A bad event (a pipeline event without a run id, an acknowledgement
// without a dedup key, an unknown Kind, a negative Attempt) gives a
// *PolicyError with code CodeInvalidValue and a Path such as
// "event.run_id"; a failure the classifier cannot interpret gives
// CodeInvalidFailure; a state no evaluation produced, CodeInvalidState.
// On error nothing changed: keep the previous state.
func (p *Policy) EvaluateAlerts(ctx context.Context, state string, event Event, now time.Time) (Evaluation, error) {
	nowMs, err := unixMs(now)
	if err != nil {
		return Evaluation{}, err
	}
	kind, labels, err := checkEvent(&event)
	if err != nil {
		return Evaluation{}, err
	}
	if !utf8.ValidString(state) {
		// Unlike text, state cannot be repaired: it is ours, and corrupted.
		return Evaluation{}, &PolicyError{Code: CodeInvalidState, Path: "state", Message: "the alert state is not valid UTF-8"}
	}
	var ev Evaluation
	err = p.run(ctx, func(inst *instance, h uint32) (err error) {
		ev, err = inst.evaluate(ctx, h, state, &event, kind, labels, nowMs)
		return err
	})
	return ev, err
}

// KeyedState is one shard of a pipeline's alert state, stored under Key
// (the guest names the keys: step:["p","s"], pipeline:"p", global; "" holds
// a whole-document Evaluation.State, split into keys on first use).
type KeyedState struct {
	Key string `json:"key"`
	// State is opaque JSON; "" in an answer means: delete the key.
	State string `json:"state"`
	// NextWakeupMs is when to pass this shard again (with a tick, or any
	// event), in Unix milliseconds; nil for never.
	NextWakeupMs *uint64 `json:"next_wakeup_ms"`
}

// NeededKeys names the shards an event needs: Keys, or every stored key.
type NeededKeys struct {
	Keys     []string `json:"keys"`
	EveryKey bool     `json:"every_key"`
}

// KeyedEvaluation is the outcome of one event over keyed shards.
type KeyedEvaluation struct {
	Notifications []Notification `json:"notifications"`
	Suppressed    []Suppressed   `json:"suppressed"`
	// States are the shards that changed: store them (an empty State
	// deletes the key).
	States []KeyedState `json:"states"`
	// NextWakeupMs is the soonest wakeup among the shards this evaluation saw.
	NextWakeupMs *uint64 `json:"next_wakeup_ms"`
}

// AlertStateKeys names the keyed alert state shards event needs, a pure
// function of the policy and the event (see EvaluateAlertsKeyed).
func (p *Policy) AlertStateKeys(ctx context.Context, event Event) (NeededKeys, error) {
	kind, labels, err := checkEvent(&event)
	if err != nil {
		return NeededKeys{}, err
	}
	var out NeededKeys
	err = p.run(ctx, func(inst *instance, h uint32) (err error) {
		out, err = inst.alertStateKeys(ctx, h, &event, kind, labels)
		return err
	})
	return out, err
}

// EvaluateAlertsKeyed is EvaluateAlerts over keyed shards, so one event
// costs what it concerns: pass the stored shards AlertStateKeys names, every
// stored shard whose NextWakeupMs is due at now, and a whole-document state
// under the key "" if you have one; store each returned shard (an empty
// State deletes its key). Each key's state is limited to 8 MiB (a
// *PolicyError with CodeTooLarge whose Path names the key).
func (p *Policy) EvaluateAlertsKeyed(ctx context.Context, states []KeyedState, event Event, now time.Time) (KeyedEvaluation, error) {
	nowMs, err := unixMs(now)
	if err != nil {
		return KeyedEvaluation{}, err
	}
	kind, labels, err := checkEvent(&event)
	if err != nil {
		return KeyedEvaluation{}, err
	}
	for i, st := range states {
		if !utf8.ValidString(st.Key) || !utf8.ValidString(st.State) {
			return KeyedEvaluation{}, &PolicyError{Code: CodeInvalidState, Path: fmt.Sprintf("states[%d]", i),
				Message: "the alert state shard is not valid UTF-8"}
		}
	}
	var ev KeyedEvaluation
	err = p.run(ctx, func(inst *instance, h uint32) (err error) {
		ev, err = inst.evaluateKeyed(ctx, h, states, &event, kind, labels, nowMs)
		return err
	})
	return ev, err
}

// label is one of an Event's labels, as the WIT's label record.
type label struct{ key, value string }

// checkEvent validates what the WIT cannot carry (an unknown kind, integers
// beyond u32) and repairs invalid UTF-8, since the guest trusts strings. e
// is the caller's copy; its Failure and slices are copied before any
// change, so the caller's values are never modified. It returns the kind's
// case index and the labels sorted by key.
func checkEvent(e *Event) (uint32, []label, error) {
	kind, ok := indexOf(eventKinds[:], e.Kind)
	if !ok {
		return 0, nil, &PolicyError{
			Code: CodeInvalidValue,
			Path: "event.kind",
			Message: fmt.Sprintf("%q is not an event kind (attempt-failed, run-failed, run-succeeded, "+
				"run-late, alert-acknowledged or tick)", string(e.Kind)),
		}
	}
	for _, n := range []struct {
		field string
		v     int
	}{{"attempt", e.Attempt}, {"late_minutes", e.LateMinutes}} {
		if n.v < 0 || n.v > math.MaxUint32 {
			return 0, nil, &PolicyError{
				Code:    CodeInvalidValue,
				Path:    "event." + n.field,
				Message: fmt.Sprintf("%s is %d; it must be between 0 and %d", n.field, n.v, uint32(math.MaxUint32)),
			}
		}
	}
	if e.Failure != nil {
		f := *e.Failure
		if err := checkFailure(&f); err != nil {
			return 0, nil, err
		}
		e.Failure = &f
	}
	for _, s := range []*string{&e.Pipeline, &e.Step, &e.RunID, &e.DedupKey} {
		*s = validUTF8(*s)
	}
	if slices.ContainsFunc(e.LogLines, func(l string) bool { return !utf8.ValidString(l) }) {
		lines := make([]string, len(e.LogLines))
		for i, l := range e.LogLines {
			lines[i] = validUTF8(l)
		}
		e.LogLines = lines
	}
	var labels []label
	if len(e.Labels) > 0 {
		labels = make([]label, 0, len(e.Labels))
		for k, v := range e.Labels {
			labels = append(labels, label{validUTF8(k), validUTF8(v)})
		}
		// By key, then value: repairing invalid UTF-8 can make two keys
		// equal, and the order must still not depend on map iteration.
		slices.SortFunc(labels, func(a, b label) int {
			return cmp.Or(strings.Compare(a.key, b.key), strings.Compare(a.value, b.value))
		})
	}
	return kind, labels, nil
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
