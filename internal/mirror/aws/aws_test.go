package aws

// There is no AWS here: these tests run the real aws-sdk-go-v2 EC2 client
// against ec2test, a local server that speaks the EC2 Query protocol.

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/wirebridge/wirebridge/internal/mirror"
	"github.com/wirebridge/wirebridge/internal/mirror/aws/ec2test"
)

const (
	testTarget    = "tmt-0collector"
	testTargetENI = "eni-0collector"
)

// newEC2 starts an ec2test server with a target (whose ENI is in vpc-a).
func newEC2(t *testing.T) *ec2test.Server {
	t.Helper()
	srv := ec2test.New()
	t.Cleanup(srv.Close)
	srv.AddENI(ec2test.ENI{ID: testTargetENI, VPC: "vpc-a", Subnet: "subnet-a1", InstanceID: "i-0collector"})
	srv.AddTarget(ec2test.Target{ID: testTarget, ENI: testTargetENI})
	return srv
}

// newProvider builds a provider on srv; edit changes the config first.
func newProvider(t *testing.T, srv *ec2test.Server, edit func(*Config)) *Provider {
	t.Helper()
	cfg := Config{
		Name:        "m1",
		Region:      "us-east-1",
		EndpointURL: srv.URL,
		Credentials: credentials.NewStaticCredentialsProvider(ec2test.AccessKeyID, "test-secret", ""),
		TargetID:    testTarget,
		VNI:         42,
		MaxBackoff:  10 * time.Millisecond,
		Logger:      slog.New(slog.DiscardHandler),
	}
	if edit != nil {
		edit(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func ids(es []mirror.Endpoint) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func TestDesiredSelectors(t *testing.T) {
	srv := newEC2(t)
	srv.PageSize = 2 // every listing below spans pages
	for _, e := range []ec2test.ENI{
		{ID: "eni-a1web", VPC: "vpc-a", Subnet: "subnet-a1", InstanceID: "i-01", Tags: map[string]string{"mirror": "yes", "app": "web"}},
		{ID: "eni-a1db", VPC: "vpc-a", Subnet: "subnet-a1", InstanceID: "i-02", Tags: map[string]string{"mirror": "yes", "app": "db"}},
		{ID: "eni-a2web", VPC: "vpc-a", Subnet: "subnet-a2", InstanceID: "i-03", Tags: map[string]string{"mirror": "no", "app": "web"}},
		{ID: "eni-b1web", VPC: "vpc-b", Subnet: "subnet-b1", InstanceID: "i-04", Tags: map[string]string{"mirror": "yes", "app": "web"}},
		{ID: "eni-a1free", VPC: "vpc-a", Subnet: "subnet-a1", Tags: map[string]string{"mirror": "yes"}}, // detached
		{ID: "eni-a1nat", VPC: "vpc-a", Subnet: "subnet-a1", Status: "in-use", RequesterManaged: true,
			Tags: map[string]string{"mirror": "yes"}}, // a NAT gateway's
	} {
		srv.AddENI(e)
	}
	tests := []struct {
		name string
		edit func(*Config)
		want []string
	}{
		{"no selector: every attached ENI but the target's", nil,
			[]string{"eni-a1db", "eni-a1web", "eni-a2web", "eni-b1web"}},
		{"one VPC", func(c *Config) { c.VPCIDs = []string{"vpc-b"} }, []string{"eni-b1web"}},
		{"two subnets", func(c *Config) { c.SubnetIDs = []string{"subnet-a2", "subnet-b1"} }, []string{"eni-a2web", "eni-b1web"}},
		{"every tag must match", func(c *Config) { c.Tags = map[string]string{"mirror": "yes", "app": "web"} },
			[]string{"eni-a1web", "eni-b1web"}},
		{"VPC and tag", func(c *Config) { c.VPCIDs = []string{"vpc-a"}; c.Tags = map[string]string{"mirror": "yes"} },
			[]string{"eni-a1db", "eni-a1web"}},
		{"nothing matches", func(c *Config) { c.VPCIDs = []string{"vpc-z"} }, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t, srv, tc.edit)
			got, err := p.Desired(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ids(got), tc.want) {
				t.Errorf("Desired = %v, want %v", ids(got), tc.want)
			}
		})
	}
	t.Run("attributes", func(t *testing.T) {
		p := newProvider(t, srv, func(c *Config) { c.VPCIDs = []string{"vpc-b"} })
		got, err := p.Desired(context.Background())
		if err != nil || len(got) != 1 {
			t.Fatalf("Desired = %v, %v", got, err)
		}
		want := map[string]string{"vpc": "vpc-b", "subnet": "subnet-b1", "instance": "i-04", "type": "interface"}
		if !reflect.DeepEqual(got[0].Attrs, want) {
			t.Errorf("Attrs = %v, want %v", got[0].Attrs, want)
		}
	})
}

func TestCreateIsIdempotent(t *testing.T) {
	srv := newEC2(t)
	srv.AddENI(ec2test.ENI{ID: "eni-web", VPC: "vpc-a", Subnet: "subnet-a1", InstanceID: "i-0web"})
	ctx := context.Background()
	p := newProvider(t, srv, nil)
	e := mirror.Endpoint{ID: "eni-web", Attrs: map[string]string{"instance": "i-0web"}}

	s1, created, err := p.Create(ctx, e)
	if err != nil || !created {
		t.Fatalf("first Create = %+v, %v, %v; want created", s1, created, err)
	}
	s2, created, err := p.Create(ctx, e)
	if err != nil || created || s2.ID != s1.ID {
		t.Fatalf("second Create = %+v, %v, %v; want %s, not created", s2, created, err, s1.ID)
	}
	// A restarted controller (no memory) finds the session and the filter.
	p2 := newProvider(t, srv, nil)
	s3, created, err := p2.Create(ctx, e)
	if err != nil || created || s3.ID != s1.ID {
		t.Fatalf("Create after restart = %+v, %v, %v; want %s, not created", s3, created, err, s1.ID)
	}

	sessions := srv.Sessions()
	if len(sessions) != 1 {
		t.Fatalf("server has %d sessions, want 1: %+v", len(sessions), sessions)
	}
	got := sessions[0]
	filters := srv.Filters()
	if len(filters) != 1 {
		t.Fatalf("server has %d filters, want the one created: %+v", len(filters), filters)
	}
	if got.ENI != "eni-web" || got.Target != testTarget || got.Filter != filters[0].ID || got.VNI != 42 || got.Number != 1 ||
		got.Tags[TagMirror] != "m1" || got.Tags[TagInstance] != "i-0web" {
		t.Errorf("session on the server = %+v", got)
	}
	if filters[0].Tags[TagFilter] != "m1" || len(filters[0].Rules) != 4 {
		t.Errorf("filter = %+v, want tagged with 4 accept-all rules", filters[0])
	}
	for _, r := range filters[0].Rules {
		if r.Action != "accept" {
			t.Errorf("filter rule %+v does not accept", r)
		}
	}
	if s1.EndpointID != "eni-web" || !s1.Complete || s1.Attrs["vni"] != "42" || s1.Attrs["instance"] != "i-0web" {
		t.Errorf("returned session = %+v", s1)
	}
}

func TestCreateAfterDelete(t *testing.T) {
	ctx := context.Background()
	e := mirror.Endpoint{ID: "eni-web"}
	tests := []struct {
		name   string
		remove func(t *testing.T, p *Provider, srv *ec2test.Server, s mirror.Session)
	}{
		{"deleted by the provider", func(t *testing.T, p *Provider, _ *ec2test.Server, s mirror.Session) {
			if err := p.Delete(ctx, s); err != nil {
				t.Fatal(err)
			}
		}},
		{"deleted behind its back", func(t *testing.T, _ *Provider, srv *ec2test.Server, s mirror.Session) {
			if !srv.DeleteSession(s.ID) {
				t.Fatalf("session %s was not on the server", s.ID)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newEC2(t)
			srv.AddENI(ec2test.ENI{ID: "eni-web", VPC: "vpc-a", InstanceID: "i-0web"})
			p := newProvider(t, srv, nil)
			s1, _, err := p.Create(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			tc.remove(t, p, srv, s1)
			// Same ENI, same parameters: the ClientToken must differ, or
			// EC2's idempotency would answer with the deleted session.
			s2, created, err := p.Create(ctx, e)
			if err != nil || !created || s2.ID == s1.ID {
				t.Fatalf("Create = %+v, %v, %v; want a new session", s2, created, err)
			}
			if got := srv.Sessions(); len(got) != 1 || got[0].ID != s2.ID {
				t.Errorf("server sessions = %+v, want only %s", got, s2.ID)
			}
		})
	}
}

func TestActualListsOnlyOurs(t *testing.T) {
	srv := newEC2(t)
	for _, id := range []string{"eni-1", "eni-2", "eni-3"} {
		srv.AddENI(ec2test.ENI{ID: id, VPC: "vpc-a", InstanceID: "i-" + id[4:]})
	}
	srv.AddFilter(ec2test.Filter{ID: "tmf-other"})
	srv.AddSession(ec2test.Session{ID: "tms-foreign", ENI: "eni-2", Target: testTarget, Filter: "tmf-other", Number: 5})
	srv.AddSession(ec2test.Session{ID: "tms-othermirror", ENI: "eni-3", Target: testTarget, Filter: "tmf-other", Number: 6,
		Tags: map[string]string{TagMirror: "m2"}})
	srv.PageSize = 1
	ctx := context.Background()
	p := newProvider(t, srv, nil)
	s, _, err := p.Create(ctx, mirror.Endpoint{ID: "eni-1"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Actual(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != s.ID || got[0].EndpointID != "eni-1" || !got[0].Complete {
		t.Errorf("Actual = %+v, want only %s", got, s.ID)
	}
}

func TestIncompleteSessionIsReplaced(t *testing.T) {
	srv := newEC2(t)
	srv.AddENI(ec2test.ENI{ID: "eni-1", VPC: "vpc-a", InstanceID: "i-1"})
	srv.AddFilter(ec2test.Filter{ID: "tmf-old"})
	srv.AddFilter(ec2test.Filter{ID: "tmf-new"})
	// Ours, from before the configuration moved to another filter.
	srv.AddSession(ec2test.Session{ID: "tms-old", ENI: "eni-1", Target: testTarget, Filter: "tmf-old", Number: 1, VNI: 42,
		Tags: map[string]string{TagMirror: "m1"}})
	ctx := context.Background()
	p := newProvider(t, srv, func(c *Config) { c.FilterID = "tmf-new" })
	act, err := p.Actual(ctx)
	if err != nil || len(act) != 1 || act[0].Complete {
		t.Fatalf("Actual = %+v, %v; want one incomplete session", act, err)
	}
	s, created, err := p.Create(ctx, mirror.Endpoint{ID: "eni-1"})
	if err != nil || !created || s.ID == "tms-old" || !s.Complete {
		t.Fatalf("Create = %+v, %v, %v; want a new complete session", s, created, err)
	}
	if got := srv.Sessions(); len(got) != 1 || got[0].Filter != "tmf-new" {
		t.Errorf("server sessions = %+v, want one on tmf-new", got)
	}
	if got := srv.Filters(); len(got) != 2 {
		t.Errorf("a configured filter id must not create a filter: %+v", got)
	}

	// A complete session of ours beside an outdated one: kept, and the
	// outdated one deleted.
	srv.AddENI(ec2test.ENI{ID: "eni-2", VPC: "vpc-a", InstanceID: "i-2"})
	srv.AddSession(ec2test.Session{ID: "tms-2old", ENI: "eni-2", Target: testTarget, Filter: "tmf-old", Number: 2, VNI: 42,
		Tags: map[string]string{TagMirror: "m1"}})
	srv.AddSession(ec2test.Session{ID: "tms-2good", ENI: "eni-2", Target: testTarget, Filter: "tmf-new", Number: 1, VNI: 42,
		Tags: map[string]string{TagMirror: "m1"}})
	s, created, err = p.Create(ctx, mirror.Endpoint{ID: "eni-2"})
	if err != nil || created || s.ID != "tms-2good" {
		t.Fatalf("Create = %+v, %v, %v; want tms-2good kept", s, created, err)
	}
	var left []string
	for _, ss := range srv.Sessions() {
		if ss.ENI == "eni-2" {
			left = append(left, ss.ID)
		}
	}
	if len(left) != 1 || left[0] != "tms-2good" {
		t.Errorf("sessions on eni-2 = %v, want only tms-2good", left)
	}
}

func TestDeleteWhatIsGone(t *testing.T) {
	srv := newEC2(t)
	p := newProvider(t, srv, nil)
	if err := p.Delete(context.Background(), mirror.Session{EndpointID: "eni-x", ID: "tms-0gone"}); err != nil {
		t.Errorf("Delete of a missing session = %v, want nil", err)
	}
	if n := srv.Calls("DeleteTrafficMirrorSession"); n != 1 {
		t.Errorf("DeleteTrafficMirrorSession calls = %d, want 1", n)
	}
}

func TestErrorsAndRetries(t *testing.T) {
	tests := []struct {
		name        string
		maxAttempts int
		faults      []ec2test.Fault
		wantErr     bool
		permanent   bool
		wantCalls   int
	}{
		{"throttled twice, the SDK retries", 3, []ec2test.Fault{ec2test.Throttle, ec2test.Throttle}, false, false, 3},
		{"5xx once, the SDK retries", 3, []ec2test.Fault{ec2test.Internal}, false, false, 2},
		{"503 once, the SDK retries", 3, []ec2test.Fault{ec2test.Unavailable}, false, false, 2},
		{"throttled past the SDK's attempts: retryable", 3,
			[]ec2test.Fault{ec2test.Throttle, ec2test.Throttle, ec2test.Throttle}, true, false, 3},
		{"SDK retries off: retryable at once", 1, []ec2test.Fault{ec2test.Throttle}, true, false, 1},
		{"unauthorized: permanent, not retried", 3, []ec2test.Fault{ec2test.Denied}, true, true, 1},
		{"invalid parameter: permanent", 3, []ec2test.Fault{{Status: 400, Code: "InvalidParameterValue"}}, true, true, 1},
		{"unknown 4xx: permanent", 3, []ec2test.Fault{{Status: 400, Code: "SomethingNew"}}, true, true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newEC2(t)
			srv.AddENI(ec2test.ENI{ID: "eni-1", VPC: "vpc-a", InstanceID: "i-1"})
			p := newProvider(t, srv, func(c *Config) { c.MaxAttempts = tc.maxAttempts; c.FilterID = "tmf-given" })
			srv.AddFilter(ec2test.Filter{ID: "tmf-given"})
			for _, f := range tc.faults {
				srv.Fail("CreateTrafficMirrorSession", 1, f)
			}
			_, _, err := p.Create(context.Background(), mirror.Endpoint{ID: "eni-1"})
			if (err != nil) != tc.wantErr {
				t.Fatalf("Create error = %v, want error %v", err, tc.wantErr)
			}
			if got := errors.Is(err, mirror.ErrPermanent); got != tc.permanent {
				t.Errorf("errors.Is(%v, ErrPermanent) = %v, want %v", err, got, tc.permanent)
			}
			if n := srv.Calls("CreateTrafficMirrorSession"); n != tc.wantCalls {
				t.Errorf("CreateTrafficMirrorSession calls = %d, want %d", n, tc.wantCalls)
			}
			if want := map[bool]int{true: 0, false: 1}[tc.wantErr]; len(srv.Sessions()) != want {
				t.Errorf("server has %d sessions, want %d", len(srv.Sessions()), want)
			}
		})
	}
}

func TestPermanentConfigurationErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("unknown target", func(t *testing.T) {
		srv := newEC2(t)
		p := newProvider(t, srv, func(c *Config) { c.TargetID = "tmt-0missing" })
		if _, err := p.Desired(ctx); !errors.Is(err, mirror.ErrPermanent) {
			t.Errorf("Desired = %v, want ErrPermanent", err)
		}
	})
	t.Run("unknown filter", func(t *testing.T) {
		srv := newEC2(t)
		srv.AddENI(ec2test.ENI{ID: "eni-1", VPC: "vpc-a", InstanceID: "i-1"})
		p := newProvider(t, srv, func(c *Config) { c.FilterID = "tmf-0missing" })
		if _, _, err := p.Create(ctx, mirror.Endpoint{ID: "eni-1"}); !errors.Is(err, mirror.ErrPermanent) {
			t.Errorf("Create = %v, want ErrPermanent", err)
		}
	})
	t.Run("wrong credentials", func(t *testing.T) {
		srv := newEC2(t)
		p := newProvider(t, srv, func(c *Config) {
			c.Credentials = credentials.NewStaticCredentialsProvider("AKIDWRONG", "x", "")
		})
		if _, err := p.Desired(ctx); !errors.Is(err, mirror.ErrPermanent) {
			t.Errorf("Desired = %v, want ErrPermanent", err)
		}
	})
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"no name", func(c *Config) { c.Name = "" }},
		{"no target", func(c *Config) { c.TargetID = "" }},
		{"session number too big", func(c *Config) { c.SessionNumber = 32767 }},
		{"vni too big", func(c *Config) { c.VNI = 1 << 24 }},
		{"wait time too long", func(c *Config) { c.WaitTime = 21 * time.Second }},
		{"unknown sqs protocol", func(c *Config) { c.SQSProtocol = "xml" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Name: "m1", Region: "us-east-1", TargetID: testTarget}
			tc.edit(&cfg)
			if _, err := New(cfg); err == nil {
				t.Errorf("New(%+v) succeeded", cfg)
			}
		})
	}
}
