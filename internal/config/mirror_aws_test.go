package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wirebridge/wirebridge/internal/mirror/aws"
)

// TestMirrorAWS: an aws mirror entry decodes into the aws provider's spec,
// with its defaults, and its problems are reported at their keys.
func TestMirrorAWS(t *testing.T) {
	t.Run("every key", func(t *testing.T) {
		c := mustParse(t, doc(
			"mirror:",
			"  - name: vpc",
			"    provider: aws",
			"    region: eu-west-1",
			"    endpoint_url: http://127.0.0.1:4566",
			"    sqs_endpoint_url: http://127.0.0.1:4100",
			"    sqs_protocol: query",
			"    vpc_ids: [vpc-0a1b]",
			"    subnet_ids: [subnet-01, subnet-02]",
			"    tags: {mirror: 'yes'}",
			"    target_id: tmt-0abc",
			"    filter_id: tmf-0def",
			"    session_number: 7",
			"    vni: 42",
			"    sqs_queue_url: http://127.0.0.1:4100/100010001000/mirror-events",
			"    wait_time: 5s",
			"    api_key_env: WB_MIRROR_KEY",
			"    api_key_header: X-Mirror-Key",
		))
		s, ok := c.Mirror[0].Spec.(*aws.Spec)
		if !ok {
			t.Fatalf("spec %T", c.Mirror[0].Spec)
		}
		want := aws.Spec{Region: "eu-west-1", EndpointURL: "http://127.0.0.1:4566", SQSEndpointURL: "http://127.0.0.1:4100",
			SQSProtocol: "query", VPCIDs: []string{"vpc-0a1b"}, SubnetIDs: []string{"subnet-01", "subnet-02"},
			Tags: map[string]string{"mirror": "yes"}, TargetID: "tmt-0abc", FilterID: "tmf-0def", SessionNumber: 7, VNI: 42,
			SQSQueueURL: "http://127.0.0.1:4100/100010001000/mirror-events", WaitTime: 5 * time.Second,
			APIKeyEnv: "WB_MIRROR_KEY", APIKeyHeader: "X-Mirror-Key"}
		if !reflect.DeepEqual(*s, want) {
			t.Errorf("spec = %+v\nwant %+v", *s, want)
		}
		if w := s.Where(); w != "ENIs in vpc vpc-0a1b; subnet subnet-01, subnet-02; tags mirror=yes -> traffic mirror target tmt-0abc vni 42" {
			t.Errorf("Where() = %q", w)
		}
	})
	t.Run("defaults", func(t *testing.T) {
		c := mustParse(t, doc("mirror:", "  - {name: vpc, provider: aws, vpc_ids: [vpc-1], target_id: tmt-1}"))
		s := c.Mirror[0].Spec.(*aws.Spec)
		if s.SessionNumber != 1 || s.VNI != 0 || s.WaitTime != 20*time.Second || s.SQSProtocol != "json" || s.APIKeyHeader != "X-Api-Key" {
			t.Errorf("defaults: %+v", s)
		}
	})
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"no selector, no target", doc("mirror:", "  - {name: vpc, provider: aws}"),
			[]string{"mirror[0].vpc_ids: required: at least one of vpc_ids, subnet_ids or tags",
				"mirror[0].target_id: required"}},
		{"bad ids and ranges", doc("mirror:", "  - name: vpc", "    provider: aws",
			"    vpc_ids: [vpc1]", "    subnet_ids: [sn-1]", "    target_id: tmt-X", "    filter_id: f",
			"    session_number: 0", "    vni: 16777216", "    wait_time: 30s", "    sqs_protocol: xml"),
			[]string{`wirebridge.yaml:4:15: mirror[0].vpc_ids[0]: "vpc1" is not a vpc-... id`,
				`wirebridge.yaml:5:18: mirror[0].subnet_ids[0]: "sn-1" is not a subnet-... id`,
				`wirebridge.yaml:6:16: mirror[0].target_id: "tmt-X" is not a tmt-... id`,
				`wirebridge.yaml:7:16: mirror[0].filter_id: "f" is not a tmf-... id`,
				"wirebridge.yaml:8:21: mirror[0].session_number: 0 is out of range",
				"wirebridge.yaml:9:10: mirror[0].vni: 16777216 is out of range",
				"wirebridge.yaml:10:16: mirror[0].wait_time: 30s: want whole seconds from 1s to 20s",
				`wirebridge.yaml:11:19: mirror[0].sqs_protocol: invalid value "xml"`}},
		{"bad urls, region, env name", doc("mirror:", "  - name: vpc", "    provider: aws", "    tags: {a: b}",
			"    target_id: tmt-1", "    endpoint_url: 'ftp://x'", "    sqs_queue_url: queue", "    region: Mars",
			"    api_key_env: 'MY-KEY'"),
			[]string{`mirror[0].endpoint_url: "ftp://x" is not an http(s) URL`,
				`mirror[0].sqs_queue_url: "queue" is not an http(s) URL`,
				`mirror[0].region: invalid region "Mars"`,
				`mirror[0].api_key_env: "MY-KEY" is not an environment variable name`}},
		{"a linux key on an aws entry", doc("mirror:", "  - {name: vpc, provider: aws, vpc_ids: [vpc-1], target_id: tmt-1, interfaces: [eth0]}"),
			[]string{`mirror[0].interfaces: key "interfaces" is not valid for provider aws`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("wirebridge.yaml", []byte(tt.yaml), testKinds)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("errors:\n%v\nwant one containing %q", err, w)
				}
			}
		})
	}
}
