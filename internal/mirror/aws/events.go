package aws

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The EventBridge events the provider turns into triggers.
const (
	DetailTypeEC2 = "EC2 Instance State-change Notification"
	DetailTypeECS = "ECS Task State Change"
)

// ErrMalformed marks a body that is not an EventBridge event, or an event
// of a supported kind without the fields that kind must have.
var ErrMalformed = errors.New("malformed event")

// ErrIgnored marks a well-formed EventBridge event of a kind the provider
// does not act on.
var ErrIgnored = errors.New("event kind not handled")

// Event is what the provider needs from one EventBridge event.
type Event struct {
	DetailType string
	// Time is the event's time (zero when absent or unparsable).
	Time time.Time
	// InstanceID and State are set for EC2 instance state changes.
	InstanceID, State string
	// ENIs are the ENI ids of an ECS task's attachments.
	ENIs []string
	// TaskStatus is an ECS task's lastStatus.
	TaskStatus string
}

type envelope struct {
	Version    string          `json:"version"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Time       string          `json:"time"`
	Detail     json.RawMessage `json:"detail"`
	// SNS wraps the event when EventBridge → SNS → SQS.
	Type    string `json:"Type"`
	Message string `json:"Message"`
}

type ec2Detail struct {
	InstanceID string `json:"instance-id"`
	State      string `json:"state"`
}

type ecsDetail struct {
	LastStatus  string `json:"lastStatus"`
	Attachments []struct {
		Type    string `json:"type"`
		Details []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"details"`
	} `json:"attachments"`
}

// ParseEvent reads one EventBridge event (as EventBridge delivers it to SQS
// or an API destination; also inside an SNS notification). It returns an
// error wrapping ErrMalformed or ErrIgnored when there is nothing to act on.
func ParseEvent(body []byte) (Event, error) {
	return parseEvent(body, 0)
}

func parseEvent(body []byte, depth int) (Event, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return Event{}, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if env.Type == "Notification" && env.Message != "" && env.DetailType == "" && depth == 0 {
		return parseEvent([]byte(env.Message), depth+1)
	}
	if env.DetailType == "" || env.Source == "" || len(env.Detail) == 0 {
		return Event{}, fmt.Errorf("%w: no source, detail-type or detail", ErrMalformed)
	}
	ev := Event{DetailType: env.DetailType}
	if t, err := time.Parse(time.RFC3339, env.Time); err == nil {
		ev.Time = t
	}
	switch {
	case env.DetailType == DetailTypeEC2 && env.Source == "aws.ec2":
		var d ec2Detail
		if err := json.Unmarshal(env.Detail, &d); err != nil {
			return Event{}, fmt.Errorf("%w: detail: %v", ErrMalformed, err)
		}
		if !validID(d.InstanceID, "i-") || d.State == "" {
			return Event{}, fmt.Errorf("%w: %s without instance-id or state", ErrMalformed, DetailTypeEC2)
		}
		ev.InstanceID, ev.State = d.InstanceID, d.State
	case env.DetailType == DetailTypeECS && env.Source == "aws.ecs":
		var d ecsDetail
		if err := json.Unmarshal(env.Detail, &d); err != nil {
			return Event{}, fmt.Errorf("%w: detail: %v", ErrMalformed, err)
		}
		ev.TaskStatus = d.LastStatus
		for _, a := range d.Attachments {
			if !strings.EqualFold(a.Type, "eni") && !strings.EqualFold(a.Type, "ElasticNetworkInterface") {
				continue
			}
			for _, kv := range a.Details {
				if kv.Name == "networkInterfaceId" && validID(kv.Value, "eni-") {
					ev.ENIs = append(ev.ENIs, kv.Value)
				}
			}
		}
		if len(ev.ENIs) == 0 {
			// A task without awsvpc networking, or one whose ENI is not
			// attached yet: nothing to mirror.
			return Event{}, fmt.Errorf("%w: %s without an ENI attachment", ErrIgnored, DetailTypeECS)
		}
	default:
		return Event{}, fmt.Errorf("%w: %s from %s", ErrIgnored, env.DetailType, env.Source)
	}
	return ev, nil
}

// validID reports whether s is prefix followed by 1..64 lowercase hex or
// alphanumeric characters, as EC2 ids are.
func validID(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || rest == "" || len(rest) > 64 {
		return false
	}
	for _, c := range rest {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// ending reports whether an EC2 state means the instance's ENIs are going
// away or stop carrying traffic.
func ending(state string) bool {
	switch state {
	case "shutting-down", "terminated", "stopping", "stopped":
		return true
	}
	return false
}
