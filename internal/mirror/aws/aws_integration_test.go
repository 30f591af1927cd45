//go:build integration

package aws

// Acceptance tests of the AWS provider under the real reconcile loop
// (internal/mirror's Controller, its state in an embedded NATS KV bucket),
// with events from a real SQS server: goaws, built from the Go module proxy
// by the nested module in ./goawsd and run on a loopback port, which the
// SDK's SQS client reaches over the SQS Query protocol. EC2 is ec2test.
// Nothing here reaches AWS.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqsschemas "github.com/aws/aws-sdk-go-v2/service/sqs/schemas"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"

	"github.com/wirebridge/wirebridge/internal/bintest"
	"github.com/wirebridge/wirebridge/internal/bus"
	"github.com/wirebridge/wirebridge/internal/mirror"
	"github.com/wirebridge/wirebridge/internal/mirror/aws/ec2test"
)

// goawsBin is the goawsd binary TestMain builds.
var goawsBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wirebridge-goawsd-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	goawsBin = filepath.Join(dir, "goawsd")
	build := exec.Command("go", "build", "-o", goawsBin, ".")
	build.Dir = "goawsd"
	build.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building goawsd (goaws, from the Go module proxy): %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startGoaws runs goaws on a free loopback port and returns its URL.
func startGoaws(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(goawsBin, "-addr", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("goawsd printed no address: %v", err)
	}
	return strings.TrimSpace(line)
}

// sqsClient is a client for goaws (Query protocol, static credentials).
func sqsClient(endpoint string) *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDSQSTEST", "secret", ""),
	}, func(o *sqs.Options) { o.Protocol = awsquery.New(sqsschemas.AmazonSQS) })
}

// rig is ec2test + goaws + the provider under a running controller.
type rig struct {
	ec2   *ec2test.Server
	sqs   *sqs.Client
	queue string
	p     *Provider
	ctl   *mirror.Controller
	get   func(endpoint string) *mirror.Record

	mu       sync.Mutex
	triggers []mirror.Trigger
}

// recording is the provider with the triggers it reports recorded.
type recording struct {
	*Provider
	r *rig
}

func (o recording) Watch(ctx context.Context, triggers chan<- mirror.Trigger) error {
	tee := make(chan mirror.Trigger)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case tr := <-tee:
				o.r.mu.Lock()
				o.r.triggers = append(o.r.triggers, tr)
				o.r.mu.Unlock()
				select {
				case triggers <- tr:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	err := o.Provider.Watch(ctx, tee)
	<-done
	return err
}

func (r *rig) sawTriggers(endpoint, reason string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, t := range r.triggers {
		if t.EndpointID == endpoint && t.Reason == reason {
			n++
		}
	}
	return n
}

// newRig starts everything; the controller scans every scan (an hour: only
// the start and the triggers reconcile, unless a test wants scans).
func newRig(t *testing.T, scan time.Duration, withSQS bool, edit func(*Config)) *rig {
	t.Helper()
	r := &rig{ec2: newEC2(t)}
	cfg := Config{
		Name: "vpc", Region: "us-east-1", EndpointURL: r.ec2.URL,
		Credentials: credentials.NewStaticCredentialsProvider(ec2test.AccessKeyID, "secret", ""),
		VPCIDs:      []string{"vpc-a"}, TargetID: testTarget, VNI: 42,
		WaitTime: 2 * time.Second, MaxBackoff: 10 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if withSQS {
		url := startGoaws(t)
		r.sqs = sqsClient(url)
		out, err := r.sqs.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String("mirror-events")})
		if err != nil {
			t.Fatalf("create the queue on goaws: %v", err)
		}
		r.queue = aws.ToString(out.QueueUrl)
		cfg.SQSEndpointURL, cfg.SQSProtocol, cfg.SQSQueueURL = url, "query", r.queue
	}
	if edit != nil {
		edit(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.p = p
	b, err := bus.Open(context.Background(), bus.Config{DataDir: t.TempDir(), MaxStorage: 64 << 20})
	if err != nil {
		t.Fatalf("open the bus: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	kv, err := b.Mirror(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r.get = func(endpoint string) *mirror.Record {
		rec, err := mirror.Get(context.Background(), kv, "vpc", endpoint)
		if err != nil {
			t.Fatalf("read the record of %s: %v", endpoint, err)
		}
		return rec
	}
	r.ctl, err = mirror.New(mirror.Config{Name: "vpc", ProviderName: "aws", Provider: recording{p, r}, KV: kv,
		ScanInterval: scan, MaxAttempts: 5,
		Backoff: mirror.Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond, Multiplier: 2},
		Logger:  cfg.Logger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.ctl.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}

// send puts an event on the queue.
func (r *rig) send(t *testing.T, body string) {
	t.Helper()
	if _, err := r.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{
		QueueUrl: aws.String(r.queue), MessageBody: aws.String(body)}); err != nil {
		t.Fatalf("send to goaws: %v", err)
	}
}

// queued is how many messages the queue holds, in flight included.
func (r *rig) queued(t *testing.T) int {
	t.Helper()
	out, err := r.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(r.queue), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	if err != nil {
		t.Fatalf("queue attributes: %v", err)
	}
	n := 0
	for _, k := range []string{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"} {
		var v int
		fmt.Sscan(out.Attributes[k], &v)
		n += v
	}
	return n
}

// sessionsOf lists the server's sessions on eni.
func (r *rig) sessionsOf(eni string) []ec2test.Session {
	var out []ec2test.Session
	for _, s := range r.ec2.Sessions() {
		if s.ENI == eni {
			out = append(out, s)
		}
	}
	return out
}

// waitFor polls cond every 10 ms until it holds or 20 s pass (a guard
// against hanging, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// started waits until the start reconcile has read the provider's state
// (Desired, then Actual): what changes afterwards only a trigger or a scan
// can bring in.
func (r *rig) started(t *testing.T) {
	t.Helper()
	waitFor(t, "the start reconcile", func() bool { return r.ec2.Calls("DescribeTrafficMirrorSessions") > 0 })
}

func (r *rig) active(eni string) bool {
	rec := r.get(eni)
	return rec != nil && rec.State == mirror.Active
}

// TestSQSNewInstance: an EC2 "running" event on the queue for a new
// instance gets its ENI mirrored from that one message (the scan is an
// hour away), the message is deleted, and the same event again creates
// nothing.
func TestSQSNewInstance(t *testing.T) {
	r := newRig(t, time.Hour, true, nil)
	r.started(t)

	r.ec2.AddENI(ec2test.ENI{ID: "eni-0new", VPC: "vpc-a", Subnet: "subnet-a1", InstanceID: "i-0new"})
	r.send(t, ec2Event("i-0new", "running"))
	waitFor(t, "the session of eni-0new", func() bool { return r.active("eni-0new") })

	got := r.sessionsOf("eni-0new")
	if len(got) != 1 || got[0].Tags[TagMirror] != "vpc" || got[0].Tags[TagInstance] != "i-0new" || got[0].VNI != 42 {
		t.Fatalf("sessions on eni-0new = %+v", got)
	}
	if rec := r.get("eni-0new"); rec.Session != got[0].ID || rec.Attrs["vpc"] != "vpc-a" {
		t.Errorf("record = %+v", rec)
	}
	if n := r.sawTriggers("eni-0new", "sqs"); n != 1 {
		t.Errorf("sqs triggers for eni-0new = %d, want 1", n)
	}
	waitFor(t, "the message deleted", func() bool { return r.queued(t) == 0 })
	creates := r.ec2.Calls("CreateTrafficMirrorSession")

	// The same event again (SQS delivers at least once), then an event for
	// another instance: the controller handles triggers in order, so once
	// the second instance is mirrored the duplicate has been reconciled.
	r.send(t, ec2Event("i-0new", "running"))
	r.ec2.AddENI(ec2test.ENI{ID: "eni-0next", VPC: "vpc-a", Subnet: "subnet-a1", InstanceID: "i-0next"})
	r.send(t, ec2Event("i-0next", "running"))
	waitFor(t, "the session of eni-0next", func() bool { return r.active("eni-0next") })

	if n := r.sawTriggers("eni-0new", "sqs"); n != 2 {
		t.Errorf("sqs triggers for eni-0new = %d, want 2 (the duplicate reached the controller)", n)
	}
	if got := r.sessionsOf("eni-0new"); len(got) != 1 {
		t.Errorf("sessions on eni-0new after the duplicate = %+v, want one", got)
	}
	if n := r.ec2.Calls("CreateTrafficMirrorSession"); n != creates+1 {
		t.Errorf("CreateTrafficMirrorSession calls = %d, want %d (only eni-0next's)", n, creates+1)
	}
	waitFor(t, "the messages deleted", func() bool { return r.queued(t) == 0 })
	if st := r.p.Stats(); st.Received != 3 || st.Malformed != 0 {
		t.Errorf("stats = %+v", st)
	}
}

// TestSQSMalformedAndOtherEvents: a message that is not an event and one of
// another kind are counted and deleted, and do not stop the next one.
func TestSQSMalformedAndOtherEvents(t *testing.T) {
	r := newRig(t, time.Hour, true, nil)
	r.started(t)
	r.send(t, "not json at all")
	r.send(t, `{"detail-type":"AWS API Call via CloudTrail","source":"aws.ec2","detail":{}}`)
	r.ec2.AddENI(ec2test.ENI{ID: "eni-0task", VPC: "vpc-a", Subnet: "subnet-a1"})
	r.ec2.AddENI(ec2test.ENI{ID: "eni-0task", VPC: "vpc-a", Subnet: "subnet-a1", InstanceID: "i-0fargate"})
	r.send(t, ecsEvent("eni-0task", "RUNNING"))
	waitFor(t, "the session of eni-0task", func() bool { return r.active("eni-0task") })
	waitFor(t, "the messages deleted", func() bool { return r.queued(t) == 0 })
	if st := r.p.Stats(); st.Malformed != 1 || st.Ignored != 1 || st.Received != 1 {
		t.Errorf("stats = %+v", st)
	}
}

// TestThrottlingRetried: CreateTrafficMirrorSession throttled four times in
// a row: the SDK's three attempts are spent on the first three, the
// controller retries the operation, and the fourth throttle is retried by
// the SDK again: mirrored in the end, with one session.
func TestThrottlingRetried(t *testing.T) {
	r := newRig(t, time.Hour, true, nil)
	r.started(t)
	r.ec2.AddENI(ec2test.ENI{ID: "eni-0slow", VPC: "vpc-a", Subnet: "subnet-a1", InstanceID: "i-0slow"})
	before := r.ec2.Calls("CreateTrafficMirrorSession")
	r.ec2.Fail("CreateTrafficMirrorSession", 4, ec2test.Throttle)
	r.send(t, ec2Event("i-0slow", "running"))
	waitFor(t, "the session of eni-0slow", func() bool { return r.active("eni-0slow") })
	if n := r.ec2.Calls("CreateTrafficMirrorSession") - before; n != 5 {
		t.Errorf("CreateTrafficMirrorSession calls = %d, want 5 (3 by the SDK, then 2 on the controller's retry)", n)
	}
	if got := r.sessionsOf("eni-0slow"); len(got) != 1 {
		t.Errorf("sessions = %+v, want one", got)
	}
	if rec := r.get("eni-0slow"); !strings.Contains(rec.LastError, "RequestLimitExceeded") {
		t.Errorf("record = %+v, want the throttling kept as the last error", rec)
	}
}

// TestTerminatedInstance: an instance mirrored since the start terminates;
// its ENI is deleted (its session is left on EC2) and the "terminated"
// event on the queue gets the session deleted: the event names the ENI
// through the session's instance tag.
func TestTerminatedInstance(t *testing.T) {
	r := newRig(t, time.Hour, true, nil)
	r.ec2.AddENI(ec2test.ENI{ID: "eni-0db", VPC: "vpc-a", Subnet: "subnet-a1", InstanceID: "i-0db"})
	r.ec2.AddENI(ec2test.ENI{ID: "eni-0web", VPC: "vpc-a", Subnet: "subnet-a1", InstanceID: "i-0web"})
	waitFor(t, "eni-0db mirrored at start", func() bool { return r.active("eni-0db") })
	waitFor(t, "eni-0web mirrored at start", func() bool { return r.active("eni-0web") })

	r.ec2.RemoveENI("eni-0db")
	r.send(t, ec2Event("i-0db", "terminated"))
	waitFor(t, "the session of eni-0db deleted", func() bool { return len(r.sessionsOf("eni-0db")) == 0 })
	waitFor(t, "the record of eni-0db dropped", func() bool { return r.get("eni-0db") == nil })
	if n := r.sawTriggers("eni-0db", "sqs"); n != 1 {
		t.Errorf("sqs triggers for eni-0db = %d, want 1", n)
	}
	if got := r.sessionsOf("eni-0web"); len(got) != 1 {
		t.Errorf("eni-0web's sessions = %+v, want its one untouched", got)
	}
}

// TestScanRepairsDeletedSession: a session deleted behind the controller's
// back (no event says so) is put back by the periodic scan, as a new
// session (a fresh ClientToken: EC2 would answer the old one with the
// deleted session).
func TestScanRepairsDeletedSession(t *testing.T) {
	r := newRig(t, 200*time.Millisecond, false, nil)
	r.ec2.AddENI(ec2test.ENI{ID: "eni-0app", VPC: "vpc-a", Subnet: "subnet-a1", InstanceID: "i-0app"})
	waitFor(t, "eni-0app mirrored", func() bool { return r.active("eni-0app") })
	old := r.sessionsOf("eni-0app")
	if len(old) != 1 {
		t.Fatalf("sessions = %+v", old)
	}
	if !r.ec2.DeleteSession(old[0].ID) {
		t.Fatal("the session was not there")
	}
	waitFor(t, "a new session on eni-0app", func() bool {
		s := r.sessionsOf("eni-0app")
		return len(s) == 1 && s[0].ID != old[0].ID
	})
	waitFor(t, "the record on the new session", func() bool {
		rec := r.get("eni-0app")
		return rec != nil && rec.State == mirror.Active && rec.Session != old[0].ID
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := slices.IndexFunc(r.triggers, func(t mirror.Trigger) bool { return t.EndpointID == "eni-0app" }); i >= 0 {
		t.Errorf("trigger %+v: the repair was to come from the scan alone", r.triggers[i])
	}
}

// TestSQSQueueMissing: a queue that does not exist ends Watch with a
// permanent error, unless the endpoint is configured: then the endpoint
// goes on reporting triggers.
func TestSQSQueueMissing(t *testing.T) {
	ec2 := newEC2(t)
	ec2.AddENI(ec2test.ENI{ID: "eni-0x", VPC: "vpc-a", InstanceID: "i-0x"})
	url := startGoaws(t)
	cfg := func(c *Config) {
		c.SQSEndpointURL, c.SQSProtocol, c.SQSQueueURL = url, "query", url+"/100010001000/no-such-queue"
		c.WaitTime = time.Second
	}
	t.Run("SQS alone", func(t *testing.T) {
		p := newProvider(t, ec2, cfg)
		err := p.Watch(context.Background(), make(chan mirror.Trigger, 1))
		if !errors.Is(err, mirror.ErrPermanent) {
			t.Errorf("Watch = %v, want a permanent error", err)
		}
	})
	t.Run("with the endpoint", func(t *testing.T) {
		p := newProvider(t, ec2, func(c *Config) { cfg(c); c.APIKey = "k" })
		ctx, cancel := context.WithCancel(context.Background())
		triggers := make(chan mirror.Trigger, 4)
		done := make(chan error, 1)
		go func() { done <- p.Watch(ctx, triggers) }()
		waitFor(t, "the failed receive", func() bool { return p.Stats().ReceiveErrors > 0 })
		h := p.Handler()
		req := httptest.NewRequest("POST", "/", strings.NewReader(ec2Event("i-0x", "running")))
		req.Header.Set("X-Api-Key", "k")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 202 {
			t.Fatalf("POST = %d", rec.Code)
		}
		select {
		case tr := <-triggers:
			if tr.EndpointID != "eni-0x" {
				t.Errorf("trigger = %+v", tr)
			}
		case err := <-done:
			t.Fatalf("Watch ended: %v", err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch = %v after ctx ended", err)
		}
	})
}

// TestServe runs `wirebridge serve` with an aws mirror entry as a user
// would (the kind from the configuration, credentials from the
// environment), against ec2test and goaws: the start reconcile mirrors the
// ENI already there, an SQS event a new instance's, a POST to the events
// endpoint an ECS task's, and `ensure` with wait answers for an ENI.
func TestServe(t *testing.T) {
	start := time.Now()
	bin := bintest.Build(t)
	t.Logf("built wirebridge in %s", time.Since(start).Round(time.Millisecond))
	ec2 := newEC2(t)
	ec2.AddENI(ec2test.ENI{ID: "eni-0app", VPC: "vpc-a", Subnet: "subnet-a1", InstanceID: "i-0app"})
	goaws := startGoaws(t)
	sq := sqsClient(goaws)
	q, err := sq.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String("serve-events")})
	if err != nil {
		t.Fatal(err)
	}
	queue := aws.ToString(q.QueueUrl)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "wirebridge.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`data_dir: %s
http: {listen: "127.0.0.1:0"}
mirror:
  - name: vpc
    provider: aws
    region: us-east-1
    endpoint_url: %s
    sqs_endpoint_url: %s
    sqs_protocol: query
    sqs_queue_url: %s
    wait_time: 1s
    vpc_ids: [vpc-a]
    target_id: %s
    vni: 42
    api_key_env: WB_TEST_MIRROR_KEY
    scan_interval: 1h
`, filepath.Join(dir, "data"), ec2.URL, goaws, queue, testTarget)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "-c", cfg)
	cmd.Env = append(os.Environ(), "WB_TEST_MIRROR_KEY=k3y",
		"AWS_ACCESS_KEY_ID="+ec2test.AccessKeyID, "AWS_SECRET_ACCESS_KEY=secret",
		"AWS_CONFIG_FILE="+filepath.Join(dir, "no-aws-config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "no-aws-credentials"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var logMu sync.Mutex
	var logs strings.Builder
	apiURL := make(chan string, 1)
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			logMu.Lock()
			logs.WriteString(line + "\n")
			logMu.Unlock()
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "http" && strings.HasPrefix(f[1], "http://") {
				apiURL <- f[1]
			}
		}
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		stop := time.Now()
		_ = cmd.Process.Signal(os.Interrupt)
		<-exited
		t.Logf("serve stopped in %s", time.Since(stop).Round(time.Millisecond))
		if t.Failed() {
			logMu.Lock()
			t.Logf("wirebridge serve output:\n%s", logs.String())
			logMu.Unlock()
		}
	})
	var base string
	select {
	case base = <-apiURL:
	case <-exited:
		t.Fatal("wirebridge serve exited before its banner")
	}
	sessionOn := func(eni string) bool {
		for _, s := range ec2.Sessions() {
			if s.ENI == eni && s.Tags[TagMirror] == "vpc" && s.VNI == 42 {
				return true
			}
		}
		return false
	}
	t.Logf("serve up after %s", time.Since(start).Round(time.Millisecond))
	waitFor(t, "eni-0app mirrored at start", func() bool { return sessionOn("eni-0app") })

	ec2.AddENI(ec2test.ENI{ID: "eni-0new", VPC: "vpc-a", Subnet: "subnet-a1", InstanceID: "i-0new"})
	if _, err := sq.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(queue),
		MessageBody: aws.String(ec2Event("i-0new", "running"))}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "eni-0new mirrored from the SQS event", func() bool { return sessionOn("eni-0new") })

	ec2.AddENI(ec2test.ENI{ID: "eni-0task", VPC: "vpc-a", Subnet: "subnet-a1", InstanceID: "i-0fargate"})
	post := func(key string) int {
		req, _ := http.NewRequest("POST", base+EventsPath("vpc"), strings.NewReader(ecsEvent("eni-0task", "RUNNING")))
		if key != "" {
			req.Header.Set("X-Api-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("wrong"); code != http.StatusUnauthorized {
		t.Errorf("POST with a wrong key = %d, want 401", code)
	}
	if code := post("k3y"); code != http.StatusAccepted {
		t.Fatalf("POST = %d, want 202", code)
	}
	waitFor(t, "eni-0task mirrored from the endpoint", func() bool { return sessionOn("eni-0task") })

	ec2.AddENI(ec2test.ENI{ID: "eni-0ensure", VPC: "vpc-a", Subnet: "subnet-a1", InstanceID: "i-0ensure"})
	resp, err := http.Post(base+"/api/mirror/vpc/ensure/eni-0ensure?wait=1&timeout=20s", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var ans struct {
		Active bool   `json:"active"`
		Error  string `json:"error"`
	}
	err = json.NewDecoder(resp.Body).Decode(&ans)
	resp.Body.Close()
	if err != nil || !ans.Active || !sessionOn("eni-0ensure") {
		t.Errorf("ensure eni-0ensure: %d %+v %v", resp.StatusCode, ans, err)
	}
	if n := len(ec2.Sessions()); n != 4 {
		t.Errorf("%d sessions on EC2, want 4: %+v", n, ec2.Sessions())
	}
	// The provider's own counters are on /metrics: the refused POST, and
	// accepted events (the SQS one and the endpoint's).
	mresp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	for _, want := range []string{`wirebridge_mirror_aws_unauthorized_total{mirror="vpc"} 1`, `wirebridge_mirror_aws_events_total{mirror="vpc",result="malformed"} 0`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if !regexp.MustCompile(`wirebridge_mirror_aws_events_total\{mirror="vpc",result="accepted"\} [1-9]`).Match(body) {
		t.Errorf("/metrics counts no accepted event:\n%s", grepLines(string(body), "wirebridge_mirror_aws"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
