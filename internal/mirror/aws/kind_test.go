package aws

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/component"
	"github.com/wirebridge/wirebridge/internal/mirror"
	"github.com/wirebridge/wirebridge/internal/spec"
)

func validSpec() *Spec {
	s := new(Spec)
	s.SetDefaults()
	s.VPCIDs, s.TargetID = []string{"vpc-0a"}, "tmt-0b"
	return s
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Spec)
		want []string // problem paths; none: valid
	}{
		{"valid", func(*Spec) {}, nil},
		{"tags alone select", func(s *Spec) { s.VPCIDs = nil; s.Tags = map[string]string{"mirror": "yes"} }, nil},
		{"no selector", func(s *Spec) { s.VPCIDs = nil }, []string{"vpc_ids"}},
		{"aws: tag", func(s *Spec) { s.Tags = map[string]string{"aws:cloudformation:stack-name": "x"} }, []string{"tags.aws:cloudformation:stack-name"}},
		{"no target", func(s *Spec) { s.TargetID = "" }, []string{"target_id"}},
		{"wait time not whole seconds", func(s *Spec) { s.WaitTime = 1500 * time.Millisecond }, []string{"wait_time"}},
		{"bad header", func(s *Spec) { s.APIKeyHeader = "X Key" }, []string{"api_key_header"}},
		{"everything wrong", func(s *Spec) {
			s.Region, s.EndpointURL, s.SubnetIDs, s.FilterID, s.SessionNumber, s.VNI = "x", "127.0.0.1:1", []string{"sub"}, "tmf-", 0, -1
		}, []string{"region", "endpoint_url", "subnet_ids[0]", "filter_id", "session_number", "vni"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := validSpec()
			tc.edit(s)
			var c spec.Checker
			s.Validate(&c)
			var got []string
			for _, p := range c.Problems() {
				got = append(got, p.Path)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("problems = %v, want at %v", c.Problems(), tc.want)
			}
		})
	}
}

// TestKindMountsEndpoint: the kind builds the provider, mounts its events
// endpoint beside the core's /api/mirror/ routes, and the endpoint takes
// the key from the environment variable.
func TestKindMountsEndpoint(t *testing.T) {
	srv := newEC2(t)
	t.Setenv("WB_TEST_MIRROR_KEY", "k3y")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEC2TEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	s := validSpec()
	s.Region, s.EndpointURL, s.APIKeyEnv = "us-east-1", srv.URL, "WB_TEST_MIRROR_KEY"

	mux := http.NewServeMux()
	mux.Handle("/api/mirror/", http.NotFoundHandler()) // the core's routes
	env := component.Env{Logger: slog.New(slog.DiscardHandler), Handle: mux.Handle}
	built, err := Kind.New(env, component.MirrorCommon{Name: "vpc"}, s)
	if err != nil {
		t.Fatal(err)
	}
	defer built.Close()
	if _, ok := built.(mirror.Provider); !ok {
		t.Fatalf("built %T, not a mirror.Provider", built)
	}
	for _, tc := range []struct {
		key  string
		want int
	}{{"", http.StatusUnauthorized}, {"k3y", http.StatusAccepted}} {
		req := httptest.NewRequest("POST", "/api/mirror/vpc/events", strings.NewReader(ec2Event("i-1", "running")))
		if tc.key != "" {
			req.Header.Set("X-Api-Key", tc.key)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("key %q: status %d, want %d", tc.key, rec.Code, tc.want)
		}
	}

	t.Run("key variable unset", func(t *testing.T) {
		s := validSpec()
		s.Region, s.APIKeyEnv = "us-east-1", "WB_TEST_MIRROR_KEY_UNSET"
		if _, err := Kind.New(env, component.MirrorCommon{Name: "vpc2"}, s); err == nil || !strings.Contains(err.Error(), "WB_TEST_MIRROR_KEY_UNSET") {
			t.Errorf("New = %v, want an error naming the variable", err)
		}
	})
	t.Run("no HTTP listener", func(t *testing.T) {
		if _, err := Kind.New(component.Env{}, component.MirrorCommon{Name: "vpc3"}, s); err == nil {
			t.Error("New without Handle succeeded")
		}
	})
}
