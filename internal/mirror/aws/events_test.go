package aws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/mirror"
	"github.com/wirebridge/wirebridge/internal/mirror/aws/ec2test"
)

// ec2Event is an EC2 instance state-change event as EventBridge sends it.
func ec2Event(instance, state string) string {
	return fmt.Sprintf(`{"version":"0","id":"7bf73129-1428-4cd3-a780-95db273d1602",
"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","account":"123456789012",
"time":"2026-12-07T17:00:00Z","region":"us-east-1",
"resources":["arn:aws:ec2:us-east-1:123456789012:instance/%s"],
"detail":{"instance-id":%q,"state":%q}}`, instance, instance, state)
}

// ecsEvent is an ECS task state-change event with one ENI attachment.
func ecsEvent(eni, status string) string {
	return fmt.Sprintf(`{"version":"0","id":"3317b2af-7005-947d-b652-f55e762e571a",
"detail-type":"ECS Task State Change","source":"aws.ecs","account":"123456789012",
"time":"2026-12-07T17:00:01Z","region":"us-east-1","resources":[],
"detail":{"clusterArn":"arn:aws:ecs:us-east-1:123456789012:cluster/c","lastStatus":%q,"desiredStatus":"RUNNING",
"attachments":[{"id":"a1","type":"eni","status":"ATTACHED","details":[
 {"name":"subnetId","value":"subnet-a1"},{"name":"networkInterfaceId","value":%q},
 {"name":"macAddress","value":"0a:00:00:00:00:01"},{"name":"privateIPv4Address","value":"10.0.0.5"}]}]}}`, status, eni)
}

func TestParseEvent(t *testing.T) {
	when := time.Date(2026, 12, 7, 17, 0, 0, 0, time.UTC)
	sns, _ := json.Marshal(map[string]string{"Type": "Notification", "MessageId": "m", "Message": ec2Event("i-0abc", "running")})
	tests := []struct {
		name    string
		body    string
		want    Event
		wantErr error
	}{
		{"ec2 running", ec2Event("i-0abc", "running"),
			Event{DetailType: DetailTypeEC2, Time: when, InstanceID: "i-0abc", State: "running"}, nil},
		{"ec2 terminated", ec2Event("i-0abc", "terminated"),
			Event{DetailType: DetailTypeEC2, Time: when, InstanceID: "i-0abc", State: "terminated"}, nil},
		{"ecs task with an eni", ecsEvent("eni-0task", "RUNNING"),
			Event{DetailType: DetailTypeECS, Time: when.Add(time.Second), ENIs: []string{"eni-0task"}, TaskStatus: "RUNNING"}, nil},
		{"wrapped in an SNS notification", string(sns),
			Event{DetailType: DetailTypeEC2, Time: when, InstanceID: "i-0abc", State: "running"}, nil},
		{"no time", `{"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{"instance-id":"i-1","state":"running"}}`,
			Event{DetailType: DetailTypeEC2, InstanceID: "i-1", State: "running"}, nil},
		{"another kind", `{"detail-type":"AWS API Call via CloudTrail","source":"aws.ec2","detail":{}}`, Event{}, ErrIgnored},
		{"ec2 detail-type from another source", `{"detail-type":"EC2 Instance State-change Notification","source":"my.app","detail":{"instance-id":"i-1","state":"running"}}`,
			Event{}, ErrIgnored},
		{"ecs task without an eni", `{"detail-type":"ECS Task State Change","source":"aws.ecs","detail":{"lastStatus":"RUNNING","attachments":[]}}`,
			Event{}, ErrIgnored},
		{"empty", ``, Event{}, ErrMalformed},
		{"not json", `hello`, Event{}, ErrMalformed},
		{"json array", `[1,2]`, Event{}, ErrMalformed},
		{"truncated", ec2Event("i-0abc", "running")[:80], Event{}, ErrMalformed},
		{"no detail", `{"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2"}`, Event{}, ErrMalformed},
		{"ec2 without instance", `{"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{"state":"running"}}`,
			Event{}, ErrMalformed},
		{"ec2 with a bad instance id", ec2Event("i-0A/x", "running"), Event{}, ErrMalformed},
		{"ec2 detail of the wrong type", `{"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":"x"}`,
			Event{}, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEvent([]byte(tc.body))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("ParseEvent error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseEvent = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// FuzzParseEvent: any body (SQS message or HTTP request) parses without
// panicking into an event or an ErrMalformed/ErrIgnored error, and a parsed
// event carries what its kind needs.
func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(ec2Event("i-0abc", "running")))
	f.Add([]byte(ecsEvent("eni-0task", "STOPPED")))
	sns, _ := json.Marshal(map[string]string{"Type": "Notification", "Message": ecsEvent("eni-1", "RUNNING")})
	f.Add(sns)
	f.Add([]byte(`{"Type":"Notification","Message":"{\"Type\":\"Notification\",\"Message\":\"{}\"}"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParseEvent(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrIgnored) {
				t.Fatalf("error %v is neither malformed nor ignored", err)
			}
			return
		}
		switch ev.DetailType {
		case DetailTypeEC2:
			if !validID(ev.InstanceID, "i-") || ev.State == "" {
				t.Fatalf("EC2 event without instance or state: %+v", ev)
			}
		case DetailTypeECS:
			if len(ev.ENIs) == 0 {
				t.Fatalf("ECS event without ENIs: %+v", ev)
			}
			for _, id := range ev.ENIs {
				if !validID(id, "eni-") {
					t.Fatalf("bad ENI id %q", id)
				}
			}
		default:
			t.Fatalf("parsed an event of kind %q", ev.DetailType)
		}
	})
}

func TestHandler(t *testing.T) {
	srv := newEC2(t)
	p := newProvider(t, srv, func(c *Config) { c.APIKey = "s3cret" })
	h := p.Handler()
	big := `{"detail-type":"x","source":"y","detail":{"pad":"` + strings.Repeat("a", MaxBodyBytes) + `"}}`
	tests := []struct {
		name, method, key, body string
		want                    int
	}{
		{"no key", "POST", "", ec2Event("i-1", "running"), http.StatusUnauthorized},
		{"wrong key", "POST", "s3cre", ec2Event("i-1", "running"), http.StatusUnauthorized},
		{"wrong key, longer", "POST", "s3cret!", ec2Event("i-1", "running"), http.StatusUnauthorized},
		{"GET", "GET", "s3cret", "", http.StatusMethodNotAllowed},
		{"not an event", "POST", "s3cret", "hello", http.StatusBadRequest},
		{"ec2 event missing its instance", "POST", "s3cret",
			`{"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{}}`, http.StatusBadRequest},
		{"too large", "POST", "s3cret", big, http.StatusRequestEntityTooLarge},
		{"another kind of event", "POST", "s3cret", `{"detail-type":"x","source":"y","detail":{}}`, http.StatusAccepted},
		{"ec2 event", "POST", "s3cret", ec2Event("i-1", "running"), http.StatusAccepted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/api/mirror/aws/events", strings.NewReader(tc.body))
			if tc.key != "" {
				req.Header.Set("X-Api-Key", tc.key)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("status = %d (%s), want %d", rec.Code, rec.Body, tc.want)
			}
		})
	}
	st := p.Stats()
	if st.Unauthorized != 3 || st.Malformed != 2 || st.Ignored != 1 || st.Received != 1 {
		t.Errorf("Stats = %+v", st)
	}

	t.Run("no key configured rejects everything", func(t *testing.T) {
		p := newProvider(t, srv, nil)
		req := httptest.NewRequest("POST", "/", strings.NewReader(ec2Event("i-1", "running")))
		req.Header.Set("X-Api-Key", "")
		rec := httptest.NewRecorder()
		p.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("status = %d, want 401", rec.Code)
		}
	})
}

// TestWatchHTTP posts events to the endpoint over a real HTTP server and
// reads the triggers Watch reports.
func TestWatchHTTP(t *testing.T) {
	srv := newEC2(t)
	srv.AddENI(ec2test.ENI{ID: "eni-0web1", VPC: "vpc-a", InstanceID: "i-0web"})
	srv.AddENI(ec2test.ENI{ID: "eni-0web2", VPC: "vpc-a", InstanceID: "i-0web"})
	srv.AddENI(ec2test.ENI{ID: "eni-0db", VPC: "vpc-a", InstanceID: "i-0db"})
	p := newProvider(t, srv, func(c *Config) { c.APIKey = "k" })
	api := httptest.NewServer(p.Handler())
	defer api.Close()

	ctx, cancel := context.WithCancel(context.Background())
	triggers := make(chan mirror.Trigger, 16)
	done := make(chan error, 1)
	go func() { done <- p.Watch(ctx, triggers) }()

	post := func(body string) {
		t.Helper()
		req, _ := http.NewRequest("POST", api.URL, bytes.NewReader([]byte(body)))
		req.Header.Set("X-Api-Key", "k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST = %d", resp.StatusCode)
		}
	}
	recv := func(n int) []mirror.Trigger {
		t.Helper()
		var got []mirror.Trigger
		for len(got) < n {
			select {
			case tr := <-triggers:
				got = append(got, tr)
			case err := <-done:
				t.Fatalf("Watch ended: %v", err)
			}
		}
		return got
	}
	when := time.Date(2026, 12, 7, 17, 0, 0, 0, time.UTC)

	post(ec2Event("i-0web", "running"))
	got := recv(2)
	want := []mirror.Trigger{{EndpointID: "eni-0web1", Reason: "api", Seen: when}, {EndpointID: "eni-0web2", Reason: "api", Seen: when}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("running: triggers = %+v, want %+v", got, want)
	}

	post(ecsEvent("eni-0task", "RUNNING"))
	got = recv(1)
	if got[0].EndpointID != "eni-0task" || got[0].Reason != "api" {
		t.Errorf("ecs: trigger = %+v", got[0])
	}

	// An instance whose ENIs and sessions are already gone: a full reconcile.
	post(ec2Event("i-0gone", "terminated"))
	got = recv(1)
	if got[0].EndpointID != "" {
		t.Errorf("terminated with nothing left: trigger = %+v, want a full reconcile", got[0])
	}

	// A terminated instance whose session of ours remains: that ENI.
	if _, _, err := p.Create(ctx, mirror.Endpoint{ID: "eni-0db", Attrs: map[string]string{"instance": "i-0db"}}); err != nil {
		t.Fatal(err)
	}
	srv.RemoveENI("eni-0db")
	srv.AddSession(ec2test.Session{ID: "tms-0left", ENI: "eni-0db", Target: testTarget, Filter: "tmf-x", Number: 2,
		Tags: map[string]string{TagMirror: "m1", TagInstance: "i-0db"}})
	post(ec2Event("i-0db", "terminated"))
	got = recv(1)
	if got[0].EndpointID != "eni-0db" {
		t.Errorf("terminated: trigger = %+v, want eni-0db", got[0])
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Watch = %v, want nil when ctx ends", err)
	}
}

// TestSQSUnreachableRetried: receive errors that are not about the queue
// itself (here: nothing listens) are retried; Watch goes on until ctx ends.
func TestSQSUnreachableRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + ln.Addr().String()
	ln.Close()
	srv := newEC2(t)
	p := newProvider(t, srv, func(c *Config) {
		c.SQSEndpointURL, c.SQSQueueURL, c.WaitTime = addr, addr+"/123456789012/q", time.Second
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Watch(ctx, make(chan mirror.Trigger)) }()
	for p.Stats().ReceiveErrors < 2 {
		select {
		case err := <-done:
			t.Fatalf("Watch ended after %d receive errors: %v", p.Stats().ReceiveErrors, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Watch = %v, want nil when ctx ends", err)
	}
}
