package ec2test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

func client(s *Server) *ec2.Client {
	return ec2.New(ec2.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(s.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(AccessKeyID, "secret", ""),
	})
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestProtocol(t *testing.T) {
	s := New()
	defer s.Close()
	for _, id := range []string{"eni-1", "eni-2", "eni-3"} {
		s.AddENI(ENI{ID: id, VPC: "vpc-a", InstanceID: "i-" + id[4:], Tags: map[string]string{"n": id}})
	}
	s.AddTarget(Target{ID: "tmt-1", ENI: "eni-3"})
	s.AddFilter(Filter{ID: "tmf-1"})
	c := client(s)
	ctx := context.Background()

	t.Run("pages", func(t *testing.T) {
		s.PageSize = 1
		defer func() { s.PageSize = 0 }()
		var got []string
		pg := ec2.NewDescribeNetworkInterfacesPaginator(c, &ec2.DescribeNetworkInterfacesInput{})
		for pg.HasMorePages() {
			page, err := pg.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.NetworkInterfaces) != 1 {
				t.Fatalf("page of %d", len(page.NetworkInterfaces))
			}
			ni := page.NetworkInterfaces[0]
			if aws.ToString(ni.Attachment.InstanceId) != "i-"+aws.ToString(ni.NetworkInterfaceId)[4:] || ni.Status != types.NetworkInterfaceStatusInUse {
				t.Errorf("interface %+v", ni)
			}
			got = append(got, aws.ToString(ni.NetworkInterfaceId))
		}
		if strings.Join(got, ",") != "eni-1,eni-2,eni-3" {
			t.Errorf("pages gave %v", got)
		}
	})
	t.Run("tag filter", func(t *testing.T) {
		out, err := c.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{
			Filters: []types.Filter{{Name: aws.String("tag:n"), Values: []string{"eni-2", "eni-9"}}}})
		if err != nil || len(out.NetworkInterfaces) != 1 || aws.ToString(out.NetworkInterfaces[0].NetworkInterfaceId) != "eni-2" {
			t.Errorf("= %+v, %v", out, err)
		}
	})
	create := func(token string, number int32) (*ec2.CreateTrafficMirrorSessionOutput, error) {
		return c.CreateTrafficMirrorSession(ctx, &ec2.CreateTrafficMirrorSessionInput{
			NetworkInterfaceId: aws.String("eni-1"), TrafficMirrorTargetId: aws.String("tmt-1"),
			TrafficMirrorFilterId: aws.String("tmf-1"), SessionNumber: aws.Int32(number), ClientToken: aws.String(token),
			TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeTrafficMirrorSession,
				Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}}})
	}
	var first string
	t.Run("client token", func(t *testing.T) {
		a, err := create("tok", 1)
		if err != nil {
			t.Fatal(err)
		}
		first = aws.ToString(a.TrafficMirrorSession.TrafficMirrorSessionId)
		b, err := create("tok", 1)
		if err != nil || aws.ToString(b.TrafficMirrorSession.TrafficMirrorSessionId) != first {
			t.Errorf("repeat = %+v, %v; want %s", b, err, first)
		}
		if _, err := create("tok", 2); code(err) != "IdempotentParameterMismatch" {
			t.Errorf("same token, other parameters: %v", err)
		}
		if len(s.Sessions()) != 1 || s.Sessions()[0].Tags["k"] != "v" {
			t.Errorf("sessions %+v", s.Sessions())
		}
	})
	t.Run("refusals", func(t *testing.T) {
		if _, err := create("other", 1); code(err) != "InvalidParameterValue" {
			t.Errorf("second session with the same number on one ENI: %v", err)
		}
		if _, err := c.DescribeTrafficMirrorSessions(ctx, &ec2.DescribeTrafficMirrorSessionsInput{
			Filters: []types.Filter{{Name: aws.String("tag:k"), Values: []string{"v"}}}}); code(err) != "InvalidParameterValue" {
			t.Errorf("a filter the call does not have: %v", err)
		}
		if _, err := c.DeleteTrafficMirrorSession(ctx, &ec2.DeleteTrafficMirrorSessionInput{
			TrafficMirrorSessionId: aws.String("tms-none")}); code(err) != "InvalidTrafficMirrorSessionId.NotFound" {
			t.Errorf("delete of an unknown session: %v", err)
		}
		s.Fail("DescribeTrafficMirrorTargets", 1, Throttle)
		if _, err := c.DescribeTrafficMirrorTargets(ctx, &ec2.DescribeTrafficMirrorTargetsInput{}); code(err) != "RequestLimitExceeded" {
			t.Errorf("injected throttle: %v", err)
		}
		if out, err := c.DescribeTrafficMirrorTargets(ctx, &ec2.DescribeTrafficMirrorTargetsInput{}); err != nil || len(out.TrafficMirrorTargets) != 1 {
			t.Errorf("after the fault: %+v, %v", out, err)
		}
	})
	t.Run("unsigned request", func(t *testing.T) {
		resp, err := http.PostForm(s.URL, url.Values{"Action": {"DescribeNetworkInterfaces"}, "Version": {"2016-11-15"}})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "<Code>AuthFailure</Code>") {
			t.Errorf("= %d %s", resp.StatusCode, body)
		}
	})
}
