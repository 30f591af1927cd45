// Package eventbridge is the Amazon EventBridge delivery target: it sends
// deliveries to an event bus with PutEvents (aws-sdk-go-v2). It sits at the
// end of the data path (deliver ──► target/eventbridge ──► event bus).
//
// # Entries
//
// A Body shaped like a wirebridge event (a JSON object with "source",
// "detail-type" and an object "detail") becomes an entry with that Source,
// DetailType, Detail, Resources and Time. Any other JSON object (an input
// transformer's output) becomes the Detail of an entry with the configured
// Source and DetailType. A body that is not a JSON object cannot be sent and
// fails permanently.
//
// # Limits and errors
//
// PutEvents takes at most 10 entries and 256 KB (262144 bytes, counted as
// EventBridge does: Source, DetailType, Detail and Resources in UTF-8 bytes,
// plus 14 for Time) per call, so a batch is split into as many calls as
// needed, in order. An entry over 256 KB fails permanently without a call.
//
// When the response reports failed entries (FailedEntryCount), Send returns
// an *handoff.BatchError mapping each failed delivery to an *EntryError with
// the entry's ErrorCode and ErrorMessage: InternalFailure and
// ThrottlingException are transient, every other code permanent. A call
// that fails as a whole fails all its entries: throttling, 5xx and network
// errors transiently, other 4xx (validation, access denied, unknown bus)
// permanently; after a transient call failure the later calls of the batch
// are not attempted. The SDK's own retries are off: internal/deliver retries.
//
// Credentials are static (AccessKeyID/SecretAccessKey) or, when none are
// given, the SDK's default chain (environment, shared files, IMDS/ECS
// roles). Endpoint overrides the service URL (VPC endpoints, local
// emulators, tests). Send is safe for concurrent use.
package eventbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"

	"github.com/wirebridge/wirebridge/internal/handoff"
	"github.com/wirebridge/wirebridge/internal/target"
)

// PutEvents limits.
const (
	MaxEntries   = 10
	MaxCallBytes = 256 * 1024
)

// Config configures an EventBridge target.
type Config struct {
	Region       string // required unless the default chain provides one
	EventBusName string // name or ARN (default "default")
	Endpoint     string // service URL override
	// Static credentials; empty AccessKeyID means the default chain.
	AccessKeyID, SecretAccessKey, SessionToken string
	Source                                     string        // entry Source for non-event bodies (default "wirebridge")
	DetailType                                 string        // entry DetailType for non-event bodies (default "wirebridge.Event")
	Timeout                                    time.Duration // per PutEvents call (default 10s)
}

// Target sends deliveries to an EventBridge bus.
type Target struct {
	cfg       Config
	client    *eventbridge.Client
	transport atomic.Pointer[http.Transport] // set when the SDK builds its HTTP client

	mu     sync.RWMutex
	closed bool
}

// New builds the client; it makes no call.
func New(cfg Config) (*Target, error) {
	if cfg.EventBusName == "" {
		cfg.EventBusName = "default"
	}
	if cfg.Source == "" {
		cfg.Source = "wirebridge"
	}
	if cfg.DetailType == "" {
		cfg.DetailType = "wirebridge.Event"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if (cfg.AccessKeyID == "") != (cfg.SecretAccessKey == "") {
		return nil, errors.New("eventbridge target: access key id and secret access key go together")
	}
	t := &Target{cfg: cfg}
	// A buildable client, so the SDK can still apply AWS_CA_BUNDLE.
	hc := awshttp.NewBuildableClient().WithTimeout(cfg.Timeout).
		WithTransportOptions(func(tr *http.Transport) { t.transport.Store(tr) })
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithHTTPClient(hc)}
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	ac, err := awsconfig.LoadDefaultConfig(context.Background(), opts...) // reads env and files only
	if err != nil {
		return nil, fmt.Errorf("eventbridge target: aws config: %w", err)
	}
	if ac.Region == "" {
		return nil, errors.New("eventbridge target: no region (set region or AWS_REGION)")
	}
	client := eventbridge.NewFromConfig(ac, func(o *eventbridge.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.Retryer = aws.NopRetryer{}
	})
	t.client = client
	return t, nil
}

// EntryError is a failed entry reported by PutEvents.
type EntryError struct {
	Code, Message string
}

func (e *EntryError) Error() string {
	return "eventbridge target: entry failed: " + e.Code + ": " + e.Message
}

// Permanent reports whether retrying cannot help: every code except
// InternalFailure and ThrottlingException.
func (e *EntryError) Permanent() bool {
	return e.Code != "InternalFailure" && e.Code != "ThrottlingException"
}

// entry maps a delivery to a PutEvents entry and its size as EventBridge
// counts it.
func (t *Target) entry(d *handoff.Delivery) (types.PutEventsRequestEntry, int, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(d.Body, &obj); err != nil || obj == nil {
		return types.PutEventsRequestEntry{}, 0, target.Permanentf("eventbridge target: delivery %s: body is not a JSON object", d.ID)
	}
	e := types.PutEventsRequestEntry{EventBusName: aws.String(t.cfg.EventBusName)}
	var source, detailType string
	detail, hasDetail := obj["detail"]
	if hasDetail && json.Unmarshal(obj["source"], &source) == nil && source != "" &&
		json.Unmarshal(obj["detail-type"], &detailType) == nil && detailType != "" &&
		bytes.HasPrefix(bytes.TrimSpace(detail), []byte("{")) {
		e.Source, e.DetailType = aws.String(source), aws.String(detailType)
		e.Detail = aws.String(string(compact(detail)))
		var res []string
		if json.Unmarshal(obj["resources"], &res) == nil && len(res) > 0 {
			e.Resources = res
		}
		var ts string
		if json.Unmarshal(obj["time"], &ts) == nil {
			if tm, err := time.Parse(time.RFC3339, ts); err == nil {
				e.Time = aws.Time(tm)
			}
		}
	} else {
		e.Source, e.DetailType = aws.String(t.cfg.Source), aws.String(t.cfg.DetailType)
		e.Detail = aws.String(string(compact(d.Body)))
	}
	size := len(*e.Source) + len(*e.DetailType) + len(*e.Detail)
	for _, r := range e.Resources {
		size += len(r)
	}
	if e.Time != nil {
		size += 14
	}
	if !utf8.ValidString(*e.Detail) {
		return e, size, target.Permanentf("eventbridge target: delivery %s: detail is not valid UTF-8", d.ID)
	}
	if size > MaxCallBytes {
		return e, size, target.Permanentf("eventbridge target: delivery %s: entry is %d bytes, over the 256 KB limit", d.ID, size)
	}
	return e, size, nil
}

func compact(b []byte) []byte {
	var c bytes.Buffer
	if json.Compact(&c, b) != nil {
		return b
	}
	return c.Bytes()
}

// Send puts the batch's events, splitting it into calls within the limits.
func (t *Target) Send(ctx context.Context, batch []handoff.Delivery) error {
	t.mu.RLock()
	closed := t.closed
	t.mu.RUnlock()
	if closed {
		return target.Closed("eventbridge")
	}
	if ctx.Err() != nil {
		return target.Canceled("eventbridge", ctx)
	}
	if len(batch) == 0 {
		return nil
	}
	failed := map[int]error{}
	var (
		entries []types.PutEventsRequestEntry
		index   []int // batch index of each entry in the call
		size    int
		stopErr error // a transient call failure: the rest is not attempted
	)
	flush := func() {
		if len(entries) == 0 {
			return
		}
		if stopErr == nil {
			stopErr = t.put(ctx, entries, index, failed)
		} else {
			for _, i := range index {
				failed[i] = stopErr
			}
		}
		entries, index, size = entries[:0], index[:0], 0
	}
	for i := range batch {
		e, n, err := t.entry(&batch[i])
		if err != nil {
			failed[i] = err
			continue
		}
		if len(entries) == MaxEntries || size+n > MaxCallBytes {
			flush()
		}
		entries = append(entries, e)
		index = append(index, i)
		size += n
	}
	flush()
	if len(failed) == 0 {
		return nil
	}
	if ctx.Err() != nil && len(failed) == len(batch) {
		return target.Canceled("eventbridge", ctx)
	}
	if len(batch) == 1 {
		return failed[0]
	}
	return &handoff.BatchError{Failed: failed}
}

// put makes one PutEvents call, recording failed entries. It returns the
// call's error when that error is transient (so later calls are skipped).
func (t *Target) put(ctx context.Context, entries []types.PutEventsRequestEntry, index []int, failed map[int]error) error {
	out, err := t.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
	if err != nil {
		err = classify(ctx, err)
		for _, i := range index {
			failed[i] = err
		}
		if target.IsPermanent(err) {
			return nil
		}
		return err
	}
	if out.FailedEntryCount == 0 {
		return nil
	}
	if len(out.Entries) != len(entries) {
		err := fmt.Errorf("eventbridge target: response has %d entries for %d sent", len(out.Entries), len(entries))
		for _, i := range index {
			failed[i] = err
		}
		return nil
	}
	for k, r := range out.Entries {
		if r.ErrorCode != nil {
			failed[index[k]] = &EntryError{Code: aws.ToString(r.ErrorCode), Message: aws.ToString(r.ErrorMessage)}
		}
	}
	return nil
}

// classify marks a whole-call error permanent or transient.
func classify(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("eventbridge target: put events: %w", ctx.Err())
	}
	wrapped := fmt.Errorf("eventbridge target: put events: %w", err)
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ThrottlingException", "InternalException", "InternalFailure", "ServiceUnavailable", "RequestTimeout":
			return wrapped
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		if s := re.HTTPStatusCode(); s >= 400 && s < 500 && s != 408 && s != 429 {
			return target.Permanent(wrapped)
		}
	}
	return wrapped // 5xx, network, timeouts
}

// Close stops the target. It is idempotent.
func (t *Target) Close() error {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	if tr := t.transport.Load(); tr != nil {
		tr.CloseIdleConnections()
	}
	return nil
}
