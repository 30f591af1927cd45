package aws

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/spec"
)

// Spec is an aws mirror entry's settings: its keys sit beside name,
// provider and scan_interval in the entry. Credentials come from the SDK's
// default chain (environment, shared files, instance or task role).
type Spec struct {
	// Region is the AWS region (default: the SDK's chain, AWS_REGION).
	Region string `yaml:"region"`
	// EndpointURL overrides the EC2 endpoint, and the SQS one unless
	// sqs_endpoint_url is set (a local test server, LocalStack).
	EndpointURL string `yaml:"endpoint_url"`
	// SQSEndpointURL overrides the SQS endpoint alone.
	SQSEndpointURL string `yaml:"sqs_endpoint_url"`
	// SQSProtocol is json (SQS today) or query (goaws, older emulators).
	SQSProtocol string `yaml:"sqs_protocol"`
	// VPCIDs, SubnetIDs and Tags select the ENIs (attached ones only): in
	// one of the VPCs, in one of the subnets, carrying every tag. At least
	// one selector is required.
	VPCIDs    []string          `yaml:"vpc_ids"`
	SubnetIDs []string          `yaml:"subnet_ids"`
	Tags      map[string]string `yaml:"tags"`
	// TargetID is the traffic mirror target every session sends to.
	TargetID string `yaml:"target_id"`
	// FilterID is the traffic mirror filter to use; empty: one accepting
	// all traffic is created (once, tagged wirebridge:mirror-filter=NAME).
	FilterID string `yaml:"filter_id"`
	// SessionNumber is the sessions' priority on their ENI (default 1).
	SessionNumber int `yaml:"session_number"`
	// VNI is the sessions' VXLAN network identifier (0: EC2 picks one).
	VNI int `yaml:"vni"`
	// SQSQueueURL is the queue EventBridge sends instance and task state
	// changes to (empty: no SQS triggers).
	SQSQueueURL string `yaml:"sqs_queue_url"`
	// WaitTime is the SQS long-poll wait (1s..20s, default 20s).
	WaitTime time.Duration `yaml:"wait_time"`
	// APIKeyEnv names the environment variable holding the API key of the
	// endpoint for EventBridge API destinations (empty: no endpoint).
	APIKeyEnv string `yaml:"api_key_env"`
	// APIKeyHeader is the header carrying that key (default X-Api-Key).
	APIKeyHeader string `yaml:"api_key_header"`
}

// SetDefaults fills the defaults.
func (s *Spec) SetDefaults() {
	s.SessionNumber = DefaultSessionNumber
	s.WaitTime = DefaultWaitTime
	s.SQSProtocol = "json"
	s.APIKeyHeader = DefaultAPIKeyHeader
}

var (
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z0-9]+)+-[0-9]+$`)
	envRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	headerRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

// Validate reports every problem, paths relative to the entry.
func (s *Spec) Validate(c *spec.Checker) {
	if s.Region != "" && !regionRE.MatchString(s.Region) {
		c.Errorf("region", "invalid region %q (such as us-east-1)", s.Region)
	}
	checkURL(c, "endpoint_url", s.EndpointURL)
	checkURL(c, "sqs_endpoint_url", s.SQSEndpointURL)
	checkURL(c, "sqs_queue_url", s.SQSQueueURL)
	c.OneOf("sqs_protocol", s.SQSProtocol, "json", "query")
	if len(s.VPCIDs) == 0 && len(s.SubnetIDs) == 0 && len(s.Tags) == 0 {
		c.Errorf("vpc_ids", "required: at least one of vpc_ids, subnet_ids or tags (without a selector every ENI of the account would be mirrored)")
	}
	for i, id := range s.VPCIDs {
		checkID(c, fmt.Sprintf("vpc_ids[%d]", i), id, "vpc-")
	}
	for i, id := range s.SubnetIDs {
		checkID(c, fmt.Sprintf("subnet_ids[%d]", i), id, "subnet-")
	}
	for k, v := range s.Tags {
		switch {
		case k == "" || len(k) > 128:
			c.Errorf("tags", "tag key %q must be 1 to 128 characters", k)
		case strings.HasPrefix(k, "aws:"):
			c.Errorf("tags."+k, "tag keys starting with aws: are AWS's own")
		case len(v) > 256:
			c.Errorf("tags."+k, "tag value longer than 256 characters")
		}
	}
	if s.TargetID == "" {
		c.Errorf("target_id", "required: the traffic mirror target (tmt-...) the sessions send to")
	} else {
		checkID(c, "target_id", s.TargetID, "tmt-")
	}
	if s.FilterID != "" {
		checkID(c, "filter_id", s.FilterID, "tmf-")
	}
	c.IntRange("session_number", s.SessionNumber, 1, 32766)
	c.IntRange("vni", s.VNI, 0, 1<<24-1)
	if s.WaitTime < time.Second || s.WaitTime > 20*time.Second || s.WaitTime%time.Second != 0 {
		c.Errorf("wait_time", "%s: want whole seconds from 1s to 20s", s.WaitTime)
	}
	if s.APIKeyEnv != "" && !envRE.MatchString(s.APIKeyEnv) {
		c.Errorf("api_key_env", "%q is not an environment variable name", s.APIKeyEnv)
	}
	if !headerRE.MatchString(s.APIKeyHeader) {
		c.Errorf("api_key_header", "%q is not an HTTP header name", s.APIKeyHeader)
	}
}

func checkURL(c *spec.Checker, path, s string) {
	if s == "" {
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.Errorf(path, "%q is not an http(s) URL", s)
	}
}

func checkID(c *spec.Checker, path, id, prefix string) {
	if !validID(id, prefix) {
		c.Errorf(path, "%q is not a %s... id", id, prefix)
	}
}

// Where says what the entry mirrors where, for the start-up banner.
func (s *Spec) Where() string {
	var sel []string
	if len(s.VPCIDs) > 0 {
		sel = append(sel, "vpc "+strings.Join(s.VPCIDs, ", "))
	}
	if len(s.SubnetIDs) > 0 {
		sel = append(sel, "subnet "+strings.Join(s.SubnetIDs, ", "))
	}
	if len(s.Tags) > 0 {
		var tags []string
		for k, v := range s.Tags {
			tags = append(tags, k+"="+v)
		}
		sort.Strings(tags)
		sel = append(sel, "tags "+strings.Join(tags, ", "))
	}
	w := "ENIs in " + strings.Join(sel, "; ") + " -> traffic mirror target " + s.TargetID
	if s.VNI != 0 {
		w += fmt.Sprintf(" vni %d", s.VNI)
	}
	return w
}

// EventsPath is where the endpoint for EventBridge API destinations of
// the entry called name is mounted on the HTTP listener.
func EventsPath(name string) string { return "/api/mirror/" + name + "/events" }

// Kind is the aws mirror provider's component kind.
var Kind = &component.MirrorKind{
	Description: "AWS EC2 Traffic Mirroring: one mirror session per selected ENI toward a traffic mirror target; events from SQS or an authenticated endpoint",
	NewSpec:     func() component.MirrorSpec { return new(Spec) },
	New:         newComponent,
}

var _ component.MirrorWherer = (*Spec)(nil)

func newComponent(env component.Env, common component.MirrorCommon, s component.MirrorSpec) (component.MirrorProvider, error) {
	sp, ok := s.(*Spec)
	if !ok {
		return nil, fmt.Errorf("mirror %s: spec %T is not an aws mirror spec", common.Name, s)
	}
	cfg := Config{
		Name: common.Name, Region: sp.Region, EndpointURL: sp.EndpointURL, SQSEndpointURL: sp.SQSEndpointURL,
		SQSProtocol: sp.SQSProtocol, VPCIDs: sp.VPCIDs, SubnetIDs: sp.SubnetIDs, Tags: sp.Tags,
		TargetID: sp.TargetID, FilterID: sp.FilterID, SessionNumber: int32(sp.SessionNumber), VNI: int32(sp.VNI),
		SQSQueueURL: sp.SQSQueueURL, WaitTime: sp.WaitTime, APIKeyHeader: sp.APIKeyHeader, Logger: env.Logger,
	}
	if sp.APIKeyEnv != "" {
		cfg.APIKey = os.Getenv(sp.APIKeyEnv)
		if cfg.APIKey == "" {
			return nil, fmt.Errorf("mirror %s: api_key_env: the environment variable %s is empty or unset", common.Name, sp.APIKeyEnv)
		}
		if env.Handle == nil {
			return nil, fmt.Errorf("mirror %s: api_key_env: the events endpoint needs the HTTP listener", common.Name)
		}
	}
	p, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.APIKey != "" {
		env.Handle(EventsPath(common.Name), p.Handler())
	}
	return p, nil
}
