// Package aws is the mirror controller's AWS provider, beside the event
// path: it keeps one EC2 Traffic Mirroring session per selected elastic
// network interface (ENI) toward a configured traffic mirror target, so the
// mirrored traffic reaches wirebridge's vxlan source. Desired state is the
// ENIs its selectors (VPC ids, subnet ids, tags) select through
// DescribeNetworkInterfaces; actual state is the sessions it created and
// tagged as its own. Triggers come from EventBridge events (EC2 instance and
// ECS task state changes) read from an SQS queue or posted to an
// authenticated HTTP endpoint; the reconciler in internal/mirror drives it.
//
// Retries have two layers. Inside one provider call the SDK's standard
// retryer retries throttling (RequestLimitExceeded, Throttling, ...), 5xx
// answers and connection errors up to Config.MaxAttempts attempts in all
// (default 3) with capped, jittered exponential backoff (Config.MaxBackoff,
// default 2s) and no client-side retry quota. When those attempts are spent
// the call returns an ordinary (retryable) error, and the reconciler retries
// the operation with its own backoff and limit: at most MaxAttempts × the
// reconciler's limit requests per operation. Errors retrying cannot fix
// (UnauthorizedOperation, InvalidParameterValue, an unknown target or
// filter, ...) are wrapped with mirror.ErrPermanent and are not retried by
// the SDK either.
package aws

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqsschemas "github.com/aws/aws-sdk-go-v2/service/sqs/schemas"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/wirebridge/wirebridge/internal/mirror"
)

// Tag keys the provider writes on what it creates.
const (
	// TagMirror marks a traffic mirror session as this mirror's (value: the
	// mirror name). Actual lists only sessions with this tag.
	TagMirror = "wirebridge:mirror"
	// TagInstance records the instance the source ENI was attached to, so
	// a terminated instance's sessions can be found after its ENIs are gone.
	TagInstance = "wirebridge:instance"
	// TagFilter marks the traffic mirror filter the provider created
	// (value: the mirror name).
	TagFilter = "wirebridge:mirror-filter"
)

// Config configures one AWS mirror.
type Config struct {
	// Name is the mirror's name; it marks the sessions (TagMirror) and
	// seeds their ClientTokens.
	Name string
	// Region is the AWS region; empty means the SDK's default chain
	// (AWS_REGION, the shared config file).
	Region string
	// EndpointURL overrides the EC2 (and, unless SQSEndpointURL is set, the
	// SQS) endpoint: a local test server or LocalStack.
	EndpointURL string
	// SQSEndpointURL overrides the SQS endpoint alone.
	SQSEndpointURL string
	// SQSProtocol is "json" (the default; what SQS speaks today) or "query"
	// (the older XML protocol SQS still accepts, and the one goaws speaks).
	SQSProtocol string
	// Credentials, when set, replace the SDK's default credential chain.
	Credentials aws.CredentialsProvider

	// VPCIDs, SubnetIDs and Tags select ENIs: an ENI is selected when it is
	// in use (attached), in one of the VPCs (if any are given), in one of
	// the subnets (if any) and carries every tag (key=value).
	VPCIDs, SubnetIDs []string
	Tags              map[string]string

	// TargetID is the traffic mirror target (tmt-...) every session sends to.
	TargetID string
	// FilterID is the traffic mirror filter (tmf-...) to use; empty means
	// the provider finds the filter it created earlier (tagged TagFilter)
	// or creates one that accepts all traffic in both directions.
	FilterID string
	// SessionNumber is the sessions' priority on their ENI (1..32766;
	// default 1).
	SessionNumber int32
	// VNI is the VXLAN network identifier of the sessions; 0 lets EC2 pick
	// one.
	VNI int32

	// SQSQueueURL is the queue EventBridge delivers events to; empty means
	// no SQS triggers.
	SQSQueueURL string
	// WaitTime is the SQS long-poll wait (1s..20s, default 20s).
	WaitTime time.Duration
	// APIKey is the key the HTTP endpoint (Handler) requires in the
	// APIKeyHeader header; empty means the endpoint rejects every request.
	APIKey string
	// APIKeyHeader is the header that carries the API key (default
	// X-Api-Key, what an EventBridge connection with API key auth sends
	// when told to).
	APIKeyHeader string

	// MaxAttempts bounds the SDK's attempts per AWS call (default 3; 1
	// turns the SDK's retries off and leaves retrying to the reconciler).
	MaxAttempts int
	// MaxBackoff caps the SDK's delay between attempts (default 2s).
	MaxBackoff time.Duration

	// Logger receives the provider's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Defaults for Config's zero values.
const (
	DefaultSessionNumber = 1
	DefaultWaitTime      = 20 * time.Second
	DefaultMaxAttempts   = 3
	DefaultMaxBackoff    = 2 * time.Second
	DefaultAPIKeyHeader  = "X-Api-Key"
)

// Stats counts what the trigger paths saw.
type Stats struct {
	// Received counts events read from SQS or accepted on the endpoint.
	Received uint64
	// Malformed counts SQS messages and request bodies that are not an
	// EventBridge event (or miss the fields of their kind).
	Malformed uint64
	// Ignored counts well-formed events of other kinds.
	Ignored uint64
	// Triggers counts triggers reported.
	Triggers uint64
	// Unauthorized counts endpoint requests without the right API key.
	Unauthorized uint64
	// ReceiveErrors counts failed SQS receives.
	ReceiveErrors uint64
}

// Provider implements mirror.Provider on EC2 Traffic Mirroring.
type Provider struct {
	cfg Config
	ec2 *ec2.Client
	sqs *sqs.Client
	log *slog.Logger

	// api carries events accepted by the HTTP endpoint to Watch.
	api chan apiEvent

	mu sync.Mutex
	// filterID is the filter sessions use, once known.
	filterID string
	// targetENI is the target's own ENI (never mirrored to itself); known
	// once targetChecked.
	targetENI     string
	targetChecked bool
	// last is the last session id seen for an ENI; when that session is
	// gone, it salts the next ClientToken for the ENI, so a re-create after
	// a delete does not get the deleted session back from EC2's
	// idempotency.
	last map[string]string

	received, malformed, ignored, triggers, unauthorized, receiveErrors atomic.Uint64
}

var _ mirror.Provider = (*Provider)(nil)

// New builds the clients; it makes no AWS call.
func New(cfg Config) (*Provider, error) {
	if cfg.Name == "" {
		return nil, errors.New("aws mirror: name is required")
	}
	if cfg.TargetID == "" {
		return nil, errors.New("aws mirror: target id is required")
	}
	if cfg.SessionNumber == 0 {
		cfg.SessionNumber = DefaultSessionNumber
	}
	if cfg.SessionNumber < 1 || cfg.SessionNumber > 32766 {
		return nil, fmt.Errorf("aws mirror: session number %d out of range 1..32766", cfg.SessionNumber)
	}
	if cfg.VNI < 0 || cfg.VNI > 1<<24-1 {
		return nil, fmt.Errorf("aws mirror: vni %d out of range 0..16777215", cfg.VNI)
	}
	if cfg.WaitTime == 0 {
		cfg.WaitTime = DefaultWaitTime
	}
	if cfg.WaitTime < time.Second || cfg.WaitTime > 20*time.Second {
		return nil, fmt.Errorf("aws mirror: wait time %s out of range 1s..20s", cfg.WaitTime)
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.APIKeyHeader == "" {
		cfg.APIKeyHeader = DefaultAPIKeyHeader
	}
	switch cfg.SQSProtocol {
	case "", "json", "query":
	default:
		return nil, fmt.Errorf("aws mirror: sqs protocol %q is neither json nor query", cfg.SQSProtocol)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if cfg.Credentials != nil {
		opts = append(opts, awsconfig.WithCredentialsProvider(cfg.Credentials))
	}
	opts = append(opts, awsconfig.WithRetryer(func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = cfg.MaxAttempts
			o.MaxBackoff = cfg.MaxBackoff
			o.Backoff = jitterBackoff{max: cfg.MaxBackoff}
			o.RateLimiter = ratelimit.None
		})
	}))
	ac, err := awsconfig.LoadDefaultConfig(context.Background(), opts...) // reads env and files only
	if err != nil {
		return nil, fmt.Errorf("aws mirror %s: aws config: %w", cfg.Name, err)
	}
	if ac.Region == "" {
		return nil, fmt.Errorf("aws mirror %s: no region (set region or AWS_REGION)", cfg.Name)
	}
	p := &Provider{cfg: cfg, log: log.With("mirror", cfg.Name, "provider", "aws"),
		api: make(chan apiEvent, 256), last: map[string]string{}, filterID: cfg.FilterID}
	p.ec2 = ec2.NewFromConfig(ac, func(o *ec2.Options) {
		if cfg.EndpointURL != "" {
			o.BaseEndpoint = aws.String(cfg.EndpointURL)
		}
	})
	p.sqs = sqs.NewFromConfig(ac, func(o *sqs.Options) {
		switch {
		case cfg.SQSEndpointURL != "":
			o.BaseEndpoint = aws.String(cfg.SQSEndpointURL)
		case cfg.EndpointURL != "":
			o.BaseEndpoint = aws.String(cfg.EndpointURL)
		}
		if cfg.SQSProtocol == "query" {
			o.Protocol = awsquery.New(sqsschemas.AmazonSQS)
		}
	})
	return p, nil
}

// jitterBackoff is the SDK retryer's delay: full jitter over an exponential
// ramp from 50ms, capped at max (the SDK's own backoff starts throttling
// retries at 1s whatever the cap, too slow for a local test and for a
// mirror that should be up within a second).
type jitterBackoff struct{ max time.Duration }

func (b jitterBackoff) BackoffDelay(attempt int, _ error) (time.Duration, error) {
	d := 50 * time.Millisecond << min(attempt, 16)
	if d > b.max || d <= 0 {
		d = b.max
	}
	return time.Duration(rand.Int64N(int64(d)) + 1), nil
}

// Stats returns the trigger paths' counters.
func (p *Provider) Stats() Stats {
	return Stats{Received: p.received.Load(), Malformed: p.malformed.Load(), Ignored: p.ignored.Load(),
		Triggers: p.triggers.Load(), Unauthorized: p.unauthorized.Load(),
		ReceiveErrors: p.receiveErrors.Load()}
}

// Close releases nothing the SDK needs released; it exists for the
// interface. It does not remove sessions.
func (p *Provider) Close() error { return nil }

// permanentCodes are AWS error codes retrying cannot fix.
var permanentCodes = map[string]bool{
	"UnauthorizedOperation":                      true,
	"AuthFailure":                                true,
	"InvalidClientTokenId":                       true,
	"SignatureDoesNotMatch":                      true,
	"OptInRequired":                              true,
	"Blocked":                                    true,
	"InvalidParameterValue":                      true,
	"InvalidParameter":                           true,
	"InvalidParameterCombination":                true,
	"MissingParameter":                           true,
	"InvalidAction":                              true,
	"IdempotentParameterMismatch":                true,
	"InvalidNetworkInterfaceID.NotFound":         true,
	"InvalidNetworkInterfaceID.Malformed":        true,
	"InvalidTrafficMirrorTargetId.NotFound":      true,
	"InvalidTrafficMirrorFilterId.NotFound":      true,
	"TrafficMirrorSessionLimitExceeded":          true,
	"TrafficMirrorSourcesPerTargetLimitExceeded": true,
	"AccessDenied":                               true,
	"AccessDeniedException":                      true,
	"AWS.SimpleQueueService.NonExistentQueue":    true,
	"QueueDoesNotExist":                          true,
}

// classify wraps err with what was being done, and with mirror.ErrPermanent
// when retrying cannot help: a known permanent code, or any other 4xx that
// is not throttling. Throttling, 5xx and transport errors stay retryable.
func classify(err error, format string, a ...any) error {
	what := fmt.Sprintf(format, a...)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, err)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code := ae.ErrorCode()
		if permanentCodes[code] {
			return fmt.Errorf("%s: %w: %v", what, mirror.ErrPermanent, err)
		}
		var re *awshttp.ResponseError
		if errors.As(err, &re) {
			st := re.HTTPStatusCode()
			if st >= 400 && st < 500 && st != http.StatusTooManyRequests && !retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err).Bool() {
				return fmt.Errorf("%s: %w: %v", what, mirror.ErrPermanent, err)
			}
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

// clientToken derives the idempotency token of one create: the same mirror,
// ENI, parameters and salt always give the same token, so a retried call (by
// the SDK, the reconciler, a restarted or second controller) cannot create a
// second session.
func clientToken(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return "wb-" + hex.EncodeToString(h.Sum(nil))[:48]
}

// Desired lists the in-use ENIs the selectors select, except the target's
// own and those managed by AWS services (requester-managed).
func (p *Provider) Desired(ctx context.Context) ([]mirror.Endpoint, error) {
	targetENI, err := p.target(ctx)
	if err != nil {
		return nil, err
	}
	in := &ec2.DescribeNetworkInterfacesInput{Filters: p.selectorFilters(), MaxResults: aws.Int32(1000)}
	var out []mirror.Endpoint
	pg := ec2.NewDescribeNetworkInterfacesPaginator(p.ec2, in)
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, classify(err, "aws mirror %s: describe network interfaces", p.cfg.Name)
		}
		for _, ni := range page.NetworkInterfaces {
			id := aws.ToString(ni.NetworkInterfaceId)
			// The target's own ENI is no source, nor are the ENIs AWS
			// services manage (load balancers, NAT gateways, endpoints).
			if id == "" || id == targetENI || aws.ToBool(ni.RequesterManaged) {
				continue
			}
			out = append(out, mirror.Endpoint{ID: id, Attrs: eniAttrs(ni)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (p *Provider) selectorFilters() []ec2types.Filter {
	fs := []ec2types.Filter{{Name: aws.String("status"), Values: []string{"in-use"}}}
	if len(p.cfg.VPCIDs) > 0 {
		fs = append(fs, ec2types.Filter{Name: aws.String("vpc-id"), Values: p.cfg.VPCIDs})
	}
	if len(p.cfg.SubnetIDs) > 0 {
		fs = append(fs, ec2types.Filter{Name: aws.String("subnet-id"), Values: p.cfg.SubnetIDs})
	}
	keys := make([]string, 0, len(p.cfg.Tags))
	for k := range p.cfg.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fs = append(fs, ec2types.Filter{Name: aws.String("tag:" + k), Values: []string{p.cfg.Tags[k]}})
	}
	return fs
}

func eniAttrs(ni ec2types.NetworkInterface) map[string]string {
	a := map[string]string{}
	if v := aws.ToString(ni.VpcId); v != "" {
		a["vpc"] = v
	}
	if v := aws.ToString(ni.SubnetId); v != "" {
		a["subnet"] = v
	}
	if ni.Attachment != nil && aws.ToString(ni.Attachment.InstanceId) != "" {
		a["instance"] = aws.ToString(ni.Attachment.InstanceId)
	}
	if v := aws.ToString(ni.PrivateIpAddress); v != "" {
		a["ip"] = v
	}
	if ni.InterfaceType != "" {
		a["type"] = string(ni.InterfaceType)
	}
	return a
}

// target looks the mirror target up once: it must exist, and its own ENI
// (if it is an ENI target) is never a mirror source.
func (p *Provider) target(ctx context.Context) (string, error) {
	p.mu.Lock()
	if p.targetChecked {
		defer p.mu.Unlock()
		return p.targetENI, nil
	}
	p.mu.Unlock()
	out, err := p.ec2.DescribeTrafficMirrorTargets(ctx, &ec2.DescribeTrafficMirrorTargetsInput{
		TrafficMirrorTargetIds: []string{p.cfg.TargetID}})
	if err != nil {
		return "", classify(err, "aws mirror %s: describe traffic mirror target %s", p.cfg.Name, p.cfg.TargetID)
	}
	if len(out.TrafficMirrorTargets) == 0 {
		return "", fmt.Errorf("aws mirror %s: traffic mirror target %s: %w: not found", p.cfg.Name, p.cfg.TargetID, mirror.ErrPermanent)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.targetENI = aws.ToString(out.TrafficMirrorTargets[0].NetworkInterfaceId)
	p.targetChecked = true
	return p.targetENI, nil
}

// ours reports whether a session carries this mirror's tag, and the
// instance tag.
func (p *Provider) ours(tags []ec2types.Tag) (mine bool, instance string) {
	for _, t := range tags {
		switch aws.ToString(t.Key) {
		case TagMirror:
			mine = aws.ToString(t.Value) == p.cfg.Name
		case TagInstance:
			instance = aws.ToString(t.Value)
		}
	}
	return mine, instance
}

// session converts an EC2 session of ours; it is complete when it matches
// the configuration (target, filter, session number, VNI if set).
func (p *Provider) session(s ec2types.TrafficMirrorSession, filterID, instance string) mirror.Session {
	number, vni := aws.ToInt32(s.SessionNumber), aws.ToInt32(s.VirtualNetworkId)
	complete := aws.ToString(s.TrafficMirrorTargetId) == p.cfg.TargetID &&
		aws.ToString(s.TrafficMirrorFilterId) == filterID &&
		number == p.cfg.SessionNumber && (p.cfg.VNI == 0 || vni == p.cfg.VNI)
	attrs := map[string]string{
		"target":         aws.ToString(s.TrafficMirrorTargetId),
		"filter":         aws.ToString(s.TrafficMirrorFilterId),
		"session_number": strconv.Itoa(int(number)),
		"vni":            strconv.Itoa(int(vni)),
	}
	if instance != "" {
		attrs["instance"] = instance
	}
	return mirror.Session{EndpointID: aws.ToString(s.NetworkInterfaceId), ID: aws.ToString(s.TrafficMirrorSessionId),
		Complete: complete, Attrs: attrs}
}

// Actual lists the sessions tagged as this mirror's.
func (p *Provider) Actual(ctx context.Context) ([]mirror.Session, error) {
	filterID, err := p.filter(ctx)
	if err != nil {
		return nil, err
	}
	sessions, err := p.sessions(ctx, nil)
	if err != nil {
		return nil, err
	}
	out := make([]mirror.Session, 0, len(sessions))
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range sessions {
		mine, instance := p.ours(s.Tags)
		if !mine {
			continue
		}
		ms := p.session(s, filterID, instance)
		p.last[ms.EndpointID] = ms.ID
		out = append(out, ms)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].EndpointID < out[j].EndpointID || (out[i].EndpointID == out[j].EndpointID && out[i].ID < out[j].ID)
	})
	return out, nil
}

// sessions lists traffic mirror sessions (all pages) with the filters.
func (p *Provider) sessions(ctx context.Context, filters []ec2types.Filter) ([]ec2types.TrafficMirrorSession, error) {
	in := &ec2.DescribeTrafficMirrorSessionsInput{Filters: filters, MaxResults: aws.Int32(1000)}
	var out []ec2types.TrafficMirrorSession
	pg := ec2.NewDescribeTrafficMirrorSessionsPaginator(p.ec2, in)
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, classify(err, "aws mirror %s: describe traffic mirror sessions", p.cfg.Name)
		}
		out = append(out, page.TrafficMirrorSessions...)
	}
	return out, nil
}

// Create makes sure e has a complete session of ours: an existing one that
// matches the configuration is kept (created false), one that does not is
// replaced, and a missing one is created with a derived ClientToken.
func (p *Provider) Create(ctx context.Context, e mirror.Endpoint) (mirror.Session, bool, error) {
	filterID, err := p.filter(ctx)
	if err != nil {
		return mirror.Session{}, false, err
	}
	existing, err := p.sessions(ctx, []ec2types.Filter{{Name: aws.String("network-interface-id"), Values: []string{e.ID}}})
	if err != nil {
		return mirror.Session{}, false, err
	}
	// Keep the first complete session of ours; replace the others (the
	// configuration changed: target, filter, number or VNI).
	var keep *mirror.Session
	for _, s := range existing {
		mine, instance := p.ours(s.Tags)
		if !mine {
			continue
		}
		ms := p.session(s, filterID, instance)
		if ms.Complete && keep == nil {
			keep = &ms
			continue
		}
		p.log.Info("replacing a traffic mirror session that no longer matches the configuration",
			"eni", e.ID, "session", ms.ID)
		if err := p.Delete(ctx, ms); err != nil {
			return mirror.Session{}, false, err
		}
		p.mu.Lock()
		p.last[e.ID] = ms.ID
		p.mu.Unlock()
	}
	if keep != nil {
		p.mu.Lock()
		p.last[e.ID] = keep.ID
		p.mu.Unlock()
		return *keep, false, nil
	}
	p.mu.Lock()
	salt := p.last[e.ID]
	p.mu.Unlock()
	instance := e.Attrs["instance"]
	tags := []ec2types.Tag{{Key: aws.String(TagMirror), Value: aws.String(p.cfg.Name)}}
	if instance != "" {
		tags = append(tags, ec2types.Tag{Key: aws.String(TagInstance), Value: aws.String(instance)})
	}
	in := &ec2.CreateTrafficMirrorSessionInput{
		NetworkInterfaceId:    aws.String(e.ID),
		TrafficMirrorTargetId: aws.String(p.cfg.TargetID),
		TrafficMirrorFilterId: aws.String(filterID),
		SessionNumber:         aws.Int32(p.cfg.SessionNumber),
		Description:           aws.String("wirebridge mirror " + p.cfg.Name),
		ClientToken: aws.String(clientToken("session", p.cfg.Name, e.ID, p.cfg.TargetID, filterID,
			strconv.Itoa(int(p.cfg.SessionNumber)), strconv.Itoa(int(p.cfg.VNI)), instance, salt)),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeTrafficMirrorSession, Tags: tags}},
	}
	if p.cfg.VNI != 0 {
		in.VirtualNetworkId = aws.Int32(p.cfg.VNI)
	}
	out, err := p.ec2.CreateTrafficMirrorSession(ctx, in)
	if err != nil {
		return mirror.Session{}, false, classify(err, "aws mirror %s: create traffic mirror session for %s", p.cfg.Name, e.ID)
	}
	if out.TrafficMirrorSession == nil {
		return mirror.Session{}, false, fmt.Errorf("aws mirror %s: create traffic mirror session for %s: empty answer", p.cfg.Name, e.ID)
	}
	ms := p.session(*out.TrafficMirrorSession, filterID, instance)
	p.mu.Lock()
	p.last[e.ID] = ms.ID
	p.mu.Unlock()
	return ms, true, nil
}

// Delete removes a session of ours; one already gone is success.
func (p *Provider) Delete(ctx context.Context, s mirror.Session) error {
	if s.ID == "" {
		return fmt.Errorf("aws mirror %s: delete session of %s: %w: no session id", p.cfg.Name, s.EndpointID, mirror.ErrPermanent)
	}
	_, err := p.ec2.DeleteTrafficMirrorSession(ctx, &ec2.DeleteTrafficMirrorSessionInput{TrafficMirrorSessionId: aws.String(s.ID)})
	if err != nil && !isCode(err, "InvalidTrafficMirrorSessionId.NotFound") {
		return classify(err, "aws mirror %s: delete traffic mirror session %s", p.cfg.Name, s.ID)
	}
	return nil
}
