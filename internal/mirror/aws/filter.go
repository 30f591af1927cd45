package aws

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// acceptAll are the rules of a filter the provider creates: every packet,
// IPv4 and IPv6, in both directions.
var acceptAll = []struct {
	direction ec2types.TrafficDirection
	number    int32
	cidr      string
}{
	{ec2types.TrafficDirectionIngress, 100, "0.0.0.0/0"},
	{ec2types.TrafficDirectionIngress, 101, "::/0"},
	{ec2types.TrafficDirectionEgress, 100, "0.0.0.0/0"},
	{ec2types.TrafficDirectionEgress, 101, "::/0"},
}

// filter returns the traffic mirror filter id sessions use: the configured
// one, else the one this mirror created earlier (tagged TagFilter=name),
// else a new accept-all filter. Creation is idempotent through ClientTokens
// derived from the mirror name, and rules missing from a found filter (a
// crash between creating the filter and its rules) are added.
func (p *Provider) filter(ctx context.Context) (string, error) {
	p.mu.Lock()
	id := p.filterID
	p.mu.Unlock()
	if id != "" {
		return id, nil
	}
	var found *ec2types.TrafficMirrorFilter
	pg := ec2.NewDescribeTrafficMirrorFiltersPaginator(p.ec2, &ec2.DescribeTrafficMirrorFiltersInput{MaxResults: aws.Int32(1000)})
	for pg.HasMorePages() && found == nil {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return "", classify(err, "aws mirror %s: describe traffic mirror filters", p.cfg.Name)
		}
		for i, f := range page.TrafficMirrorFilters {
			for _, t := range f.Tags {
				if aws.ToString(t.Key) == TagFilter && aws.ToString(t.Value) == p.cfg.Name {
					found = &page.TrafficMirrorFilters[i]
					break
				}
			}
			if found != nil {
				break
			}
		}
	}
	if found == nil {
		out, err := p.ec2.CreateTrafficMirrorFilter(ctx, &ec2.CreateTrafficMirrorFilterInput{
			Description: aws.String("wirebridge mirror " + p.cfg.Name + ": all traffic"),
			ClientToken: aws.String(clientToken("filter", p.cfg.Name)),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeTrafficMirrorFilter,
				Tags: []ec2types.Tag{{Key: aws.String(TagFilter), Value: aws.String(p.cfg.Name)}}}},
		})
		if err != nil {
			return "", classify(err, "aws mirror %s: create traffic mirror filter", p.cfg.Name)
		}
		if out.TrafficMirrorFilter == nil {
			return "", fmt.Errorf("aws mirror %s: create traffic mirror filter: empty answer", p.cfg.Name)
		}
		found = out.TrafficMirrorFilter
		p.log.Info("created traffic mirror filter", "filter", aws.ToString(found.TrafficMirrorFilterId))
	}
	id = aws.ToString(found.TrafficMirrorFilterId)
	have := map[string]bool{}
	for _, r := range append(append([]ec2types.TrafficMirrorFilterRule{}, found.IngressFilterRules...), found.EgressFilterRules...) {
		have[string(r.TrafficDirection)+"/"+strconv.Itoa(int(aws.ToInt32(r.RuleNumber)))] = true
	}
	for _, r := range acceptAll {
		if have[string(r.direction)+"/"+strconv.Itoa(int(r.number))] {
			continue
		}
		_, err := p.ec2.CreateTrafficMirrorFilterRule(ctx, &ec2.CreateTrafficMirrorFilterRuleInput{
			TrafficMirrorFilterId: aws.String(id),
			TrafficDirection:      r.direction,
			RuleNumber:            aws.Int32(r.number),
			RuleAction:            ec2types.TrafficMirrorRuleActionAccept,
			SourceCidrBlock:       aws.String(r.cidr),
			DestinationCidrBlock:  aws.String(r.cidr),
			Description:           aws.String("wirebridge: all traffic"),
			ClientToken:           aws.String(clientToken("filter-rule", p.cfg.Name, id, string(r.direction), strconv.Itoa(int(r.number)))),
		})
		if err != nil && !isCode(err, "TrafficMirrorFilterRuleAlreadyExists") {
			return "", classify(err, "aws mirror %s: create traffic mirror filter rule on %s", p.cfg.Name, id)
		}
	}
	p.mu.Lock()
	p.filterID = id
	p.mu.Unlock()
	return id, nil
}
