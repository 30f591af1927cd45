package aws

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"github.com/wirebridge/wirebridge/internal/mirror"
)

// MaxBodyBytes bounds an event body on the HTTP endpoint: EventBridge's
// own limit for one event (256 KiB).
const MaxBodyBytes = 256 << 10

// apiEvent is an event accepted on the HTTP endpoint, waiting for Watch.
type apiEvent struct {
	ev   Event
	seen time.Time
}

// Watch reports triggers from the SQS queue (when configured) and from
// events accepted by Handler, until ctx ends. An SQS message is deleted once
// its triggers are reported, or at once when it is malformed or of a kind
// not handled (counted in Stats; redelivering cannot make it useful, so it
// is not left to the queue's redrive policy). A message whose triggers could
// not be worked out (EC2 unreachable) stays in the queue and comes back
// after its visibility timeout. An event from the endpoint whose ENIs
// cannot be looked up is dropped (logged): the scan settles it. When the
// queue cannot be read for a reason retrying will not fix (no such queue,
// access denied) Watch returns that error, unless the endpoint is
// configured: then it logs it and goes on with the endpoint alone.
func (p *Provider) Watch(ctx context.Context, triggers chan<- mirror.Trigger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var sqsErr chan error // nil: no SQS path (a nil channel never receives)
	if p.cfg.SQSQueueURL != "" {
		sqsErr = make(chan error, 1)
		go func() { sqsErr <- p.pollSQS(ctx, triggers) }()
	}
	for {
		select {
		case <-ctx.Done():
			if sqsErr != nil {
				<-sqsErr
			}
			return nil
		case err := <-sqsErr:
			sqsErr = nil // the SQS path has ended
			if ctx.Err() != nil {
				return nil
			}
			if p.cfg.APIKey == "" {
				return err
			}
			// The endpoint still reports triggers.
			p.log.Error("the SQS queue can no longer be read; events come from the endpoint and the scan only", "err", err)
		case a := <-p.api:
			ts, err := p.resolve(ctx, a.ev, "api", a.seen)
			if err != nil {
				p.log.Warn("event from the endpoint not turned into triggers", "err", err)
				continue
			}
			p.send(ctx, triggers, ts) // false only when ctx ended: the loop returns
		}
	}
}

// send reports ts; false when ctx ended first.
func (p *Provider) send(ctx context.Context, triggers chan<- mirror.Trigger, ts []mirror.Trigger) bool {
	for _, t := range ts {
		select {
		case triggers <- t:
			p.triggers.Add(1)
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// pollSQS long-polls the queue until ctx ends.
func (p *Provider) pollSQS(ctx context.Context, triggers chan<- mirror.Trigger) error {
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		out, err := p.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:            aws.String(p.cfg.SQSQueueURL),
			MaxNumberOfMessages: 10,
			WaitTimeSeconds:     int32(p.cfg.WaitTime / time.Second),
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			p.receiveErrors.Add(1)
			cerr := classify(err, "aws mirror %s: receive from %s", p.cfg.Name, p.cfg.SQSQueueURL)
			if queueUnusable(err) {
				return cerr
			}
			backoff = min(max(2*backoff, time.Second), 30*time.Second)
			p.log.Warn("sqs receive failed; retrying", "err", cerr, "in", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		backoff = 0
		now := time.Now()
		for _, m := range out.Messages {
			ev, err := ParseEvent([]byte(aws.ToString(m.Body)))
			var ts []mirror.Trigger
			switch {
			case errors.Is(err, ErrMalformed):
				p.malformed.Add(1)
				p.log.Warn("malformed sqs message deleted", "message", aws.ToString(m.MessageId), "err", err)
			case errors.Is(err, ErrIgnored):
				p.ignored.Add(1)
			case err == nil:
				p.received.Add(1)
				ts, err = p.resolve(ctx, ev, "sqs", now)
				if err != nil {
					p.log.Warn("sqs event not turned into triggers; left for redelivery", "message", aws.ToString(m.MessageId), "err", err)
					continue
				}
			}
			if !p.send(ctx, triggers, ts) {
				return nil
			}
			if _, err := p.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{
				QueueUrl: aws.String(p.cfg.SQSQueueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				// Redelivered later: a repeated trigger is harmless.
				p.log.Warn("sqs delete failed", "message", aws.ToString(m.MessageId), "err", err)
			}
		}
	}
	return nil
}

// sqsFatal are the receive errors that mean the queue cannot be read at
// all (no such queue, no permission, bad credentials); any other is retried.
var sqsFatal = map[string]bool{
	"AWS.SimpleQueueService.NonExistentQueue": true,
	"QueueDoesNotExist":                       true,
	"AccessDenied":                            true,
	"AccessDeniedException":                   true,
	"InvalidClientTokenId":                    true,
	"UnrecognizedClientException":             true,
	"SignatureDoesNotMatch":                   true,
	"InvalidAddress":                          true,
	"InvalidSecurity":                         true,
}

func queueUnusable(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && sqsFatal[ae.ErrorCode()]
}

// resolve turns an event into triggers. Seen is the event's time, else the
// receive time. An EC2 instance that starts names its ENIs (looked up by
// attachment); one that stops or ends names its ENIs still attached and the
// sessions tagged with it; when neither is found the trigger asks for a
// full reconcile. An ECS task names its ENIs.
func (p *Provider) resolve(ctx context.Context, ev Event, reason string, received time.Time) ([]mirror.Trigger, error) {
	seen := ev.Time
	if seen.IsZero() {
		seen = received
	}
	ids := map[string]bool{}
	var order []string
	add := func(id string) {
		if id != "" && !ids[id] {
			ids[id] = true
			order = append(order, id)
		}
	}
	switch ev.DetailType {
	case DetailTypeECS:
		for _, id := range ev.ENIs {
			add(id)
		}
	case DetailTypeEC2:
		pg := ec2.NewDescribeNetworkInterfacesPaginator(p.ec2, &ec2.DescribeNetworkInterfacesInput{
			Filters: []ec2types.Filter{{Name: aws.String("attachment.instance-id"), Values: []string{ev.InstanceID}}}})
		for pg.HasMorePages() {
			page, err := pg.NextPage(ctx)
			if err != nil {
				return nil, classify(err, "aws mirror %s: network interfaces of %s", p.cfg.Name, ev.InstanceID)
			}
			for _, ni := range page.NetworkInterfaces {
				add(aws.ToString(ni.NetworkInterfaceId))
			}
		}
		if ending(ev.State) {
			sessions, err := p.sessions(ctx, nil)
			if err != nil {
				return nil, err
			}
			for _, s := range sessions {
				if mine, instance := p.ours(s.Tags); mine && instance == ev.InstanceID {
					add(aws.ToString(s.NetworkInterfaceId))
				}
			}
			if len(order) == 0 {
				return []mirror.Trigger{{Reason: reason, Seen: seen}}, nil
			}
		}
	}
	out := make([]mirror.Trigger, 0, len(order))
	for _, id := range order {
		out = append(out, mirror.Trigger{EndpointID: id, Reason: reason, Seen: seen})
	}
	return out, nil
}

// Handler is the endpoint for EventBridge API destinations, for the core to
// mount on the API listener. It takes a POSTed EventBridge event with the
// API key in the configured header (compared in constant time) and answers
// 202 once the event is queued for Watch (or recognised as a kind it does
// not handle), 400 for a body that is not an event, 401 without the right
// key (every request when no key is configured), 405 for another method,
// 413 for a body over MaxBodyBytes and 503 when Watch is not keeping up.
func (p *Provider) Handler() http.Handler {
	want := sha256.Sum256([]byte(p.cfg.APIKey))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := sha256.Sum256([]byte(r.Header.Get(p.cfg.APIKeyHeader)))
		if p.cfg.APIKey == "" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			p.unauthorized.Add(1)
			http.Error(w, "missing or wrong API key", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST an EventBridge event", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				http.Error(w, "event larger than 256 KiB", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "reading the body failed", http.StatusBadRequest)
			return
		}
		ev, err := ParseEvent(body)
		switch {
		case errors.Is(err, ErrIgnored):
			p.ignored.Add(1)
			w.WriteHeader(http.StatusAccepted)
			return
		case err != nil:
			p.malformed.Add(1)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case p.api <- apiEvent{ev: ev, seen: time.Now()}:
			p.received.Add(1)
			w.WriteHeader(http.StatusAccepted)
		default:
			w.Header().Set("Retry-After", "1")
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}
	})
}
