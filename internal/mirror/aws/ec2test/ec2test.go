// Package ec2test is test support, off the data path: a local HTTP server
// that speaks the EC2 Query protocol for the calls the mirror controller's
// aws provider makes (network interfaces and Traffic Mirroring sessions,
// targets, filters and filter rules, tags), so the real aws-sdk-go-v2 EC2
// client can be tested without AWS. It answers in the XML shape EC2 uses
// (<ActionResponse> with lowerCamel members and <item> lists, the
// <Response><Errors><Error> envelope for errors), paginates with
// MaxResults/NextToken, checks the ids and parameters of these calls as
// EC2's API reference describes them (the rules the provider can meet, not
// every rule EC2 has), honours ClientToken idempotency (a repeated token with the same
// parameters returns the first result, with different ones
// IdempotentParameterMismatch) and injects faults (throttling, 5xx) into the
// next calls of an action. It binds to loopback only.
package ec2test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// AccessKeyID is the access key the server accepts in the SigV4
// Authorization header; any secret goes (the signature is not checked).
const AccessKeyID = "AKIDEC2TEST"

// OwnerID is the account every resource belongs to.
const OwnerID = "123456789012"

// ENI is a network interface as DescribeNetworkInterfaces shows it.
type ENI struct {
	ID, VPC, Subnet string
	// InstanceID is the attached instance ("" when detached).
	InstanceID string
	// Status is "in-use" (attached) or "available"; empty means derived
	// from InstanceID.
	Status string
	// RequesterManaged marks an ENI an AWS service manages (a load
	// balancer's, a NAT gateway's).
	RequesterManaged bool
	Tags             map[string]string
}

// Target is a traffic mirror target.
type Target struct {
	ID, ENI, Description string
	Tags                 map[string]string
}

// FilterRule is one traffic mirror filter rule.
type FilterRule struct {
	ID, Direction, Action string
	Number, Protocol      int
	SourceCIDR, DestCIDR  string
	Description           string
}

// Filter is a traffic mirror filter.
type Filter struct {
	ID, Description string
	Tags            map[string]string
	Rules           []FilterRule
}

// Session is a traffic mirror session.
type Session struct {
	ID, ENI, Target, Filter, Description string
	Number, VNI                          int
	Tags                                 map[string]string
}

// Fault is an error answer injected into a call.
type Fault struct {
	Status int
	Code   string
}

// The faults tests inject: EC2 throttles with RequestLimitExceeded on 503.
var (
	Throttle    = Fault{Status: http.StatusServiceUnavailable, Code: "RequestLimitExceeded"}
	Internal    = Fault{Status: http.StatusInternalServerError, Code: "InternalError"}
	Unavailable = Fault{Status: http.StatusServiceUnavailable, Code: "Unavailable"}
	Denied      = Fault{Status: http.StatusForbidden, Code: "UnauthorizedOperation"}
)

type tokenEntry struct {
	fingerprint string
	id          string
	snapshot    any // the resource as first returned
}

// Server is the local EC2 endpoint. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base endpoint to give the SDK (BaseEndpoint).
	URL string
	// PageSize, when > 0, caps every page below the caller's MaxResults so
	// tests can force pagination.
	PageSize int

	srv *httptest.Server

	mu       sync.Mutex
	enis     map[string]*ENI
	targets  map[string]*Target
	filters  map[string]*Filter
	sessions map[string]*Session
	tokens   map[string]tokenEntry
	faults   map[string][]Fault
	calls    map[string]int
	seq      int
}

// New starts a server on a loopback port; Close stops it.
func New() *Server {
	s := &Server{
		enis:     map[string]*ENI{},
		targets:  map[string]*Target{},
		filters:  map[string]*Filter{},
		sessions: map[string]*Session{},
		tokens:   map[string]tokenEntry{},
		faults:   map[string][]Fault{},
		calls:    map[string]int{},
	}
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

func cloneTags(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// AddENI adds or replaces a network interface.
func (s *Server) AddENI(e ENI) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.Tags = cloneTags(e.Tags)
	s.enis[e.ID] = &e
}

// RemoveENI deletes a network interface (its instance terminated). The
// sessions whose source it was stay: what EC2 does with them is not
// modelled, and sessions left behind are what a controller must clean up.
func (s *Server) RemoveENI(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.enis, id)
}

// DetachENI detaches a network interface from its instance (status
// available), as when an instance with a secondary ENI terminates.
func (s *Server) DetachENI(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.enis[id]; e != nil {
		e.InstanceID, e.Status = "", ""
	}
}

// AddTarget adds a traffic mirror target.
func (s *Server) AddTarget(t Target) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Tags = cloneTags(t.Tags)
	s.targets[t.ID] = &t
}

// AddFilter adds a traffic mirror filter.
func (s *Server) AddFilter(f Filter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f.Tags = cloneTags(f.Tags)
	f.Rules = append([]FilterRule(nil), f.Rules...)
	s.filters[f.ID] = &f
}

// AddSession adds a session as another tool (or a person) would.
func (s *Server) AddSession(ss Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss.Tags = cloneTags(ss.Tags)
	s.sessions[ss.ID] = &ss
}

// DeleteSession deletes a session behind the client's back; it reports
// whether it existed.
func (s *Server) DeleteSession(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.sessions[id]
	delete(s.sessions, id)
	return ok
}

// Sessions returns copies of every session, sorted by id.
func (s *Server) Sessions() []Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		c := *ss
		c.Tags = cloneTags(ss.Tags)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Filters returns copies of every filter, sorted by id.
func (s *Server) Filters() []Filter {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Filter, 0, len(s.filters))
	for _, f := range s.filters {
		c := *f
		c.Tags = cloneTags(f.Tags)
		c.Rules = append([]FilterRule(nil), f.Rules...)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Fail makes the next n calls of action answer with f.
func (s *Server) Fail(action string, n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[action] = append(s.faults[action], f)
	}
}

// Calls reports how many requests for action arrived, failed ones included.
func (s *Server) Calls(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[action]
}

// newID returns a fresh id with the given prefix (eni-, tms-, tmf-, ...).
func (s *Server) newID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s%017x", prefix, s.seq)
}

// apiError is an EC2 error answer.
type apiError struct {
	status        int
	code, message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func badParam(format string, a ...any) *apiError {
	return &apiError{http.StatusBadRequest, "InvalidParameterValue", fmt.Sprintf(format, a...)}
}

func notFound(code, id string) *apiError {
	return &apiError{http.StatusBadRequest, code, fmt.Sprintf("The ID '%s' does not exist", id)}
}

func missing(name string) *apiError {
	return &apiError{http.StatusBadRequest, "MissingParameter",
		fmt.Sprintf("The request must contain the parameter %s", name)}
}

type handler func(s *Server, f url.Values) (any, *apiError)

var actions = map[string]handler{
	"DescribeNetworkInterfaces":     (*Server).describeNetworkInterfaces,
	"DescribeTrafficMirrorSessions": (*Server).describeSessions,
	"DescribeTrafficMirrorTargets":  (*Server).describeTargets,
	"DescribeTrafficMirrorFilters":  (*Server).describeFilters,
	"CreateTrafficMirrorSession":    (*Server).createSession,
	"DeleteTrafficMirrorSession":    (*Server).deleteSession,
	"CreateTrafficMirrorFilter":     (*Server).createFilter,
	"CreateTrafficMirrorFilterRule": (*Server).createFilterRule,
	"CreateTags":                    (*Server).createTags,
}

const xmlns = "http://ec2.amazonaws.com/doc/2016-11-15/"

// ServeHTTP answers one EC2 Query request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, &apiError{http.StatusBadRequest, "InvalidAction", "only POST is accepted here"})
		return
	}
	if !strings.Contains(r.Header.Get("Authorization"), "Credential="+AccessKeyID+"/") {
		writeError(w, &apiError{http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		writeError(w, &apiError{http.StatusBadRequest, "MalformedQueryString", err.Error()})
		return
	}
	action := r.PostForm.Get("Action")
	h, ok := actions[action]
	if !ok {
		writeError(w, &apiError{http.StatusBadRequest, "InvalidAction", fmt.Sprintf("The action %s is not valid for this web service.", action)})
		return
	}
	s.mu.Lock()
	s.calls[action]++
	if q := s.faults[action]; len(q) > 0 {
		f := q[0]
		s.faults[action] = q[1:]
		s.mu.Unlock()
		writeError(w, &apiError{f.Status, f.Code, "injected by ec2test"})
		return
	}
	out, aerr := h(s, r.PostForm)
	s.mu.Unlock()
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	body, err := xml.Marshal(out)
	if err != nil {
		writeError(w, &apiError{http.StatusInternalServerError, "InternalError", err.Error()})
		return
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(body)
}

type xmlError struct {
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

type xmlErrorResponse struct {
	XMLName   xml.Name   `xml:"Response"`
	Errors    []xmlError `xml:"Errors>Error"`
	RequestID string     `xml:"RequestID"`
}

func writeError(w http.ResponseWriter, e *apiError) {
	body, _ := xml.Marshal(xmlErrorResponse{Errors: []xmlError{{e.code, e.message}}, RequestID: "ec2test"})
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(e.status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(body)
}

// --- request parsing --------------------------------------------------------

// indexed returns, in index order, the sub-keys of prefix.N.* (EC2's flat
// lists): one url.Values per N with the part after "prefix.N." as key. A
// scalar list (prefix.N = value) comes back under the key "".
func indexed(f url.Values, prefix string) []url.Values {
	byIndex := map[int]url.Values{}
	for k, vs := range f {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok {
			continue
		}
		num, sub, _ := strings.Cut(rest, ".")
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 {
			continue
		}
		if byIndex[n] == nil {
			byIndex[n] = url.Values{}
		}
		byIndex[n][sub] = vs
	}
	idx := make([]int, 0, len(byIndex))
	for n := range byIndex {
		idx = append(idx, n)
	}
	sort.Ints(idx)
	out := make([]url.Values, 0, len(idx))
	for _, n := range idx {
		out = append(out, byIndex[n])
	}
	return out
}

func stringList(f url.Values, prefix string) []string {
	var out []string
	for _, v := range indexed(f, prefix) {
		out = append(out, v.Get(""))
	}
	return out
}

// filters parses Filter.N.Name / Filter.N.Value.M into name → values.
func filters(f url.Values) map[string][]string {
	out := map[string][]string{}
	for _, fv := range indexed(f, "Filter") {
		out[fv.Get("Name")] = append(out[fv.Get("Name")], stringList(fv, "Value")...)
	}
	return out
}

var tagFilter = regexp.MustCompile(`^tag:(.+)$`)

// checkFilters rejects a filter name the action does not know.
func checkFilters(fs map[string][]string, known ...string) *apiError {
	for name := range fs {
		if tagFilter.MatchString(name) || name == "tag-key" {
			if contains(known, "tag:") {
				continue
			}
		}
		if !contains(known, name) {
			return badParam("The filter '%s' is invalid", name)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// match reports whether a resource passes every filter: within one filter
// any value matches, across filters all must. field maps a filter name to
// the resource's value.
func match(fs map[string][]string, field func(name string) (string, bool), tags map[string]string) bool {
	for name, vals := range fs {
		if m := tagFilter.FindStringSubmatch(name); m != nil {
			v, ok := tags[m[1]]
			if !ok || !contains(vals, v) {
				return false
			}
			continue
		}
		if name == "tag-key" {
			found := false
			for _, k := range vals {
				if _, ok := tags[k]; ok {
					found = true
				}
			}
			if !found {
				return false
			}
			continue
		}
		v, _ := field(name)
		if !contains(vals, v) {
			return false
		}
	}
	return true
}

// tagSpecs returns the tags given for resourceType in TagSpecification.N.
func tagSpecs(f url.Values, resourceType string) (map[string]string, *apiError) {
	tags := map[string]string{}
	for _, ts := range indexed(f, "TagSpecification") {
		if rt := ts.Get("ResourceType"); rt != resourceType {
			return nil, badParam("'%s' is not a valid taggable resource type for this operation.", rt)
		}
		for _, t := range indexed(ts, "Tag") {
			if t.Get("Key") == "" {
				return nil, badParam("Tag keys must not be empty")
			}
			tags[t.Get("Key")] = t.Get("Value")
		}
	}
	return tags, nil
}

// page cuts items at NextToken (an offset) to MaxResults.
func (s *Server) page(f url.Values, n int) (from, to int, next string, aerr *apiError) {
	max := 1000
	if v := f.Get("MaxResults"); v != "" {
		m, err := strconv.Atoi(v)
		if err != nil || m < 5 || m > 1000 {
			return 0, 0, "", badParam("Value ( %s ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.", v)
		}
		max = m
	}
	if s.PageSize > 0 && s.PageSize < max {
		max = s.PageSize
	}
	if t := f.Get("NextToken"); t != "" {
		o, err := strconv.Atoi(strings.TrimPrefix(t, "off-"))
		if err != nil || !strings.HasPrefix(t, "off-") || o < 0 || o > n {
			return 0, 0, "", &apiError{http.StatusBadRequest, "InvalidNextToken", "The token '" + t + "' is invalid"}
		}
		from = o
	}
	to = min(from+max, n)
	if to < n {
		next = "off-" + strconv.Itoa(to)
	}
	return from, to, next, nil
}

// idempotent looks a ClientToken up: a repeat with the same parameters
// returns the first result; with other parameters an error.
func (s *Server) idempotent(action string, f url.Values) (key, fp string, prev *tokenEntry, aerr *apiError) {
	token := f.Get("ClientToken")
	if token == "" {
		return "", "", nil, nil
	}
	if len(token) > 64 {
		return "", "", nil, badParam("ClientToken is longer than 64 characters")
	}
	keys := make([]string, 0, len(f))
	for k := range f {
		if k != "ClientToken" && k != "Action" && k != "Version" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%q\n", k, f[k])
	}
	fp = hex.EncodeToString(h.Sum(nil))
	key = action + "\x00" + token
	if e, ok := s.tokens[key]; ok {
		if e.fingerprint != fp {
			return "", "", nil, &apiError{http.StatusBadRequest, "IdempotentParameterMismatch",
				"The client token you have provided is associated with a resource that is already deleted or has different parameters."}
		}
		return key, fp, &e, nil
	}
	return key, fp, nil, nil
}

// --- XML shapes ---------------------------------------------------------

type xmlTag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

func tagSet(m map[string]string) []xmlTag {
	out := make([]xmlTag, 0, len(m))
	for k, v := range m {
		out = append(out, xmlTag{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

type xmlAttachment struct {
	AttachmentID string `xml:"attachmentId"`
	InstanceID   string `xml:"instanceId"`
	OwnerID      string `xml:"instanceOwnerId"`
	DeviceIndex  int    `xml:"deviceIndex"`
	Status       string `xml:"status"`
}

type xmlENI struct {
	ID         string         `xml:"networkInterfaceId"`
	SubnetID   string         `xml:"subnetId"`
	VpcID      string         `xml:"vpcId"`
	OwnerID    string         `xml:"ownerId"`
	Status     string         `xml:"status"`
	Type       string         `xml:"interfaceType"`
	Requester  bool           `xml:"requesterManaged"`
	Attachment *xmlAttachment `xml:"attachment,omitempty"`
	Tags       []xmlTag       `xml:"tagSet>item"`
}

type xmlSession struct {
	ID          string   `xml:"trafficMirrorSessionId"`
	TargetID    string   `xml:"trafficMirrorTargetId"`
	FilterID    string   `xml:"trafficMirrorFilterId"`
	ENI         string   `xml:"networkInterfaceId"`
	OwnerID     string   `xml:"ownerId"`
	Number      int      `xml:"sessionNumber"`
	VNI         int      `xml:"virtualNetworkId"`
	Description string   `xml:"description,omitempty"`
	Tags        []xmlTag `xml:"tagSet>item"`
}

type xmlTarget struct {
	ID          string   `xml:"trafficMirrorTargetId"`
	ENI         string   `xml:"networkInterfaceId,omitempty"`
	Type        string   `xml:"type"`
	OwnerID     string   `xml:"ownerId"`
	Description string   `xml:"description,omitempty"`
	Tags        []xmlTag `xml:"tagSet>item"`
}

type xmlPortRange struct {
	From int `xml:"fromPort"`
	To   int `xml:"toPort"`
}

type xmlRule struct {
	ID          string `xml:"trafficMirrorFilterRuleId"`
	FilterID    string `xml:"trafficMirrorFilterId"`
	Direction   string `xml:"trafficDirection"`
	Number      int    `xml:"ruleNumber"`
	Action      string `xml:"ruleAction"`
	Protocol    int    `xml:"protocol,omitempty"`
	DestCIDR    string `xml:"destinationCidrBlock"`
	SourceCIDR  string `xml:"sourceCidrBlock"`
	Description string `xml:"description,omitempty"`
}

type xmlFilter struct {
	ID          string    `xml:"trafficMirrorFilterId"`
	Ingress     []xmlRule `xml:"ingressFilterRuleSet>item"`
	Egress      []xmlRule `xml:"egressFilterRuleSet>item"`
	Description string    `xml:"description,omitempty"`
	Tags        []xmlTag  `xml:"tagSet>item"`
}

func (e *ENI) status() string {
	if e.Status != "" {
		return e.Status
	}
	if e.InstanceID != "" {
		return "in-use"
	}
	return "available"
}

func (e *ENI) xml() xmlENI {
	x := xmlENI{ID: e.ID, SubnetID: e.Subnet, VpcID: e.VPC, OwnerID: OwnerID, Status: e.status(),
		Type: "interface", Requester: e.RequesterManaged, Tags: tagSet(e.Tags)}
	if e.InstanceID != "" {
		x.Attachment = &xmlAttachment{AttachmentID: "eni-attach-" + strings.TrimPrefix(e.ID, "eni-"),
			InstanceID: e.InstanceID, OwnerID: OwnerID, Status: "attached"}
	}
	return x
}

func (ss *Session) xml() xmlSession {
	return xmlSession{ID: ss.ID, TargetID: ss.Target, FilterID: ss.Filter, ENI: ss.ENI, OwnerID: OwnerID,
		Number: ss.Number, VNI: ss.VNI, Description: ss.Description, Tags: tagSet(ss.Tags)}
}

func (f *Filter) xml() xmlFilter {
	x := xmlFilter{ID: f.ID, Description: f.Description, Tags: tagSet(f.Tags)}
	for _, r := range f.Rules {
		xr := xmlRule{ID: r.ID, FilterID: f.ID, Direction: r.Direction, Number: r.Number, Action: r.Action,
			Protocol: r.Protocol, DestCIDR: r.DestCIDR, SourceCIDR: r.SourceCIDR, Description: r.Description}
		if r.Direction == "ingress" {
			x.Ingress = append(x.Ingress, xr)
		} else {
			x.Egress = append(x.Egress, xr)
		}
	}
	return x
}

// --- actions --------------------------------------------------------------

type describeENIsResponse struct {
	XMLName   xml.Name `xml:"DescribeNetworkInterfacesResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	RequestID string   `xml:"requestId"`
	Items     []xmlENI `xml:"networkInterfaceSet>item"`
	NextToken string   `xml:"nextToken,omitempty"`
}

func (s *Server) describeNetworkInterfaces(f url.Values) (any, *apiError) {
	fs := filters(f)
	if e := checkFilters(fs, "vpc-id", "subnet-id", "status", "attachment.instance-id", "network-interface-id", "tag:"); e != nil {
		return nil, e
	}
	ids := stringList(f, "NetworkInterfaceId")
	for _, id := range ids {
		if s.enis[id] == nil {
			return nil, notFound("InvalidNetworkInterfaceID.NotFound", id)
		}
	}
	var all []*ENI
	for _, e := range s.enis {
		if len(ids) > 0 && !contains(ids, e.ID) {
			continue
		}
		field := func(name string) (string, bool) {
			switch name {
			case "vpc-id":
				return e.VPC, true
			case "subnet-id":
				return e.Subnet, true
			case "status":
				return e.status(), true
			case "attachment.instance-id":
				return e.InstanceID, true
			case "network-interface-id":
				return e.ID, true
			}
			return "", false
		}
		if match(fs, field, e.Tags) {
			all = append(all, e)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	from, to, next, aerr := s.page(f, len(all))
	if aerr != nil {
		return nil, aerr
	}
	out := describeENIsResponse{Xmlns: xmlns, RequestID: "ec2test", NextToken: next, Items: []xmlENI{}}
	for _, e := range all[from:to] {
		out.Items = append(out.Items, e.xml())
	}
	return out, nil
}

type describeSessionsResponse struct {
	XMLName   xml.Name     `xml:"DescribeTrafficMirrorSessionsResponse"`
	Xmlns     string       `xml:"xmlns,attr"`
	RequestID string       `xml:"requestId"`
	Items     []xmlSession `xml:"trafficMirrorSessionSet>item"`
	NextToken string       `xml:"nextToken,omitempty"`
}

func (s *Server) describeSessions(f url.Values) (any, *apiError) {
	fs := filters(f)
	if e := checkFilters(fs, "description", "network-interface-id", "owner-id", "packet-length", "session-number",
		"traffic-mirror-filter-id", "traffic-mirror-session-id", "traffic-mirror-target-id", "virtual-network-id"); e != nil {
		return nil, e
	}
	ids := stringList(f, "TrafficMirrorSessionId")
	for _, id := range ids {
		if s.sessions[id] == nil {
			return nil, notFound("InvalidTrafficMirrorSessionId.NotFound", id)
		}
	}
	var all []*Session
	for _, ss := range s.sessions {
		if len(ids) > 0 && !contains(ids, ss.ID) {
			continue
		}
		field := func(name string) (string, bool) {
			switch name {
			case "description":
				return ss.Description, true
			case "network-interface-id":
				return ss.ENI, true
			case "owner-id":
				return OwnerID, true
			case "session-number":
				return strconv.Itoa(ss.Number), true
			case "traffic-mirror-filter-id":
				return ss.Filter, true
			case "traffic-mirror-session-id":
				return ss.ID, true
			case "traffic-mirror-target-id":
				return ss.Target, true
			case "virtual-network-id":
				return strconv.Itoa(ss.VNI), true
			}
			return "", false
		}
		if match(fs, field, nil) {
			all = append(all, ss)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	from, to, next, aerr := s.page(f, len(all))
	if aerr != nil {
		return nil, aerr
	}
	out := describeSessionsResponse{Xmlns: xmlns, RequestID: "ec2test", NextToken: next, Items: []xmlSession{}}
	for _, ss := range all[from:to] {
		out.Items = append(out.Items, ss.xml())
	}
	return out, nil
}

type describeTargetsResponse struct {
	XMLName   xml.Name    `xml:"DescribeTrafficMirrorTargetsResponse"`
	Xmlns     string      `xml:"xmlns,attr"`
	RequestID string      `xml:"requestId"`
	Items     []xmlTarget `xml:"trafficMirrorTargetSet>item"`
	NextToken string      `xml:"nextToken,omitempty"`
}

func (s *Server) describeTargets(f url.Values) (any, *apiError) {
	fs := filters(f)
	if e := checkFilters(fs, "description", "network-interface-id", "owner-id", "traffic-mirror-target-id"); e != nil {
		return nil, e
	}
	ids := stringList(f, "TrafficMirrorTargetId")
	for _, id := range ids {
		if s.targets[id] == nil {
			return nil, notFound("InvalidTrafficMirrorTargetId.NotFound", id)
		}
	}
	var all []*Target
	for _, t := range s.targets {
		if len(ids) > 0 && !contains(ids, t.ID) {
			continue
		}
		field := func(name string) (string, bool) {
			switch name {
			case "description":
				return t.Description, true
			case "network-interface-id":
				return t.ENI, true
			case "owner-id":
				return OwnerID, true
			case "traffic-mirror-target-id":
				return t.ID, true
			}
			return "", false
		}
		if match(fs, field, nil) {
			all = append(all, t)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	from, to, next, aerr := s.page(f, len(all))
	if aerr != nil {
		return nil, aerr
	}
	out := describeTargetsResponse{Xmlns: xmlns, RequestID: "ec2test", NextToken: next, Items: []xmlTarget{}}
	for _, t := range all[from:to] {
		out.Items = append(out.Items, xmlTarget{ID: t.ID, ENI: t.ENI, Type: "network-interface", OwnerID: OwnerID,
			Description: t.Description, Tags: tagSet(t.Tags)})
	}
	return out, nil
}

type describeFiltersResponse struct {
	XMLName   xml.Name    `xml:"DescribeTrafficMirrorFiltersResponse"`
	Xmlns     string      `xml:"xmlns,attr"`
	RequestID string      `xml:"requestId"`
	Items     []xmlFilter `xml:"trafficMirrorFilterSet>item"`
	NextToken string      `xml:"nextToken,omitempty"`
}

func (s *Server) describeFilters(f url.Values) (any, *apiError) {
	fs := filters(f)
	if e := checkFilters(fs, "description", "traffic-mirror-filter-id"); e != nil {
		return nil, e
	}
	ids := stringList(f, "TrafficMirrorFilterId")
	for _, id := range ids {
		if s.filters[id] == nil {
			return nil, notFound("InvalidTrafficMirrorFilterId.NotFound", id)
		}
	}
	var all []*Filter
	for _, fl := range s.filters {
		if len(ids) > 0 && !contains(ids, fl.ID) {
			continue
		}
		field := func(name string) (string, bool) {
			switch name {
			case "description":
				return fl.Description, true
			case "traffic-mirror-filter-id":
				return fl.ID, true
			}
			return "", false
		}
		if match(fs, field, nil) {
			all = append(all, fl)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	from, to, next, aerr := s.page(f, len(all))
	if aerr != nil {
		return nil, aerr
	}
	out := describeFiltersResponse{Xmlns: xmlns, RequestID: "ec2test", NextToken: next, Items: []xmlFilter{}}
	for _, fl := range all[from:to] {
		out.Items = append(out.Items, fl.xml())
	}
	return out, nil
}

type createSessionResponse struct {
	XMLName     xml.Name   `xml:"CreateTrafficMirrorSessionResponse"`
	Xmlns       string     `xml:"xmlns,attr"`
	RequestID   string     `xml:"requestId"`
	Session     xmlSession `xml:"trafficMirrorSession"`
	ClientToken string     `xml:"clientToken,omitempty"`
}

func intParam(f url.Values, name string, lo, hi int, required bool) (int, bool, *apiError) {
	v := f.Get(name)
	if v == "" {
		if required {
			return 0, false, missing(name)
		}
		return 0, false, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, false, badParam("Value ( %s ) for parameter %s is invalid. Expecting a value between %d and %d.", v, name, lo, hi)
	}
	return n, true, nil
}

func (s *Server) createSession(f url.Values) (any, *apiError) {
	key, fp, prev, aerr := s.idempotent("CreateTrafficMirrorSession", f)
	if aerr != nil {
		return nil, aerr
	}
	if prev != nil {
		return createSessionResponse{Xmlns: xmlns, RequestID: "ec2test", Session: prev.snapshot.(xmlSession),
			ClientToken: f.Get("ClientToken")}, nil
	}
	for _, p := range []string{"NetworkInterfaceId", "TrafficMirrorTargetId", "TrafficMirrorFilterId"} {
		if f.Get(p) == "" {
			return nil, missing(p)
		}
	}
	eni, target, filter := f.Get("NetworkInterfaceId"), f.Get("TrafficMirrorTargetId"), f.Get("TrafficMirrorFilterId")
	if s.enis[eni] == nil {
		return nil, notFound("InvalidNetworkInterfaceID.NotFound", eni)
	}
	t := s.targets[target]
	if t == nil {
		return nil, notFound("InvalidTrafficMirrorTargetId.NotFound", target)
	}
	if s.filters[filter] == nil {
		return nil, notFound("InvalidTrafficMirrorFilterId.NotFound", filter)
	}
	if t.ENI == eni {
		return nil, badParam("The source network interface %s cannot be the traffic mirror target's network interface", eni)
	}
	number, _, aerr := intParam(f, "SessionNumber", 1, 32766, true)
	if aerr != nil {
		return nil, aerr
	}
	vni, hasVNI, aerr := intParam(f, "VirtualNetworkId", 0, 1<<24-1, false)
	if aerr != nil {
		return nil, aerr
	}
	for _, other := range s.sessions {
		if other.ENI == eni && other.Number == number {
			return nil, badParam("Session number %d is already in use on network interface %s", number, eni)
		}
	}
	tags, aerr := tagSpecs(f, "traffic-mirror-session")
	if aerr != nil {
		return nil, aerr
	}
	ss := &Session{ID: s.newID("tms-"), ENI: eni, Target: target, Filter: filter, Number: number,
		Description: f.Get("Description"), Tags: tags}
	if hasVNI {
		ss.VNI = vni
	} else {
		ss.VNI = 0x100000 + s.seq // EC2 picks one at random; any stable value does here
	}
	s.sessions[ss.ID] = ss
	x := ss.xml()
	if key != "" {
		s.tokens[key] = tokenEntry{fingerprint: fp, id: ss.ID, snapshot: x}
	}
	return createSessionResponse{Xmlns: xmlns, RequestID: "ec2test", Session: x, ClientToken: f.Get("ClientToken")}, nil
}

type deleteSessionResponse struct {
	XMLName   xml.Name `xml:"DeleteTrafficMirrorSessionResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	RequestID string   `xml:"requestId"`
	ID        string   `xml:"trafficMirrorSessionId"`
}

func (s *Server) deleteSession(f url.Values) (any, *apiError) {
	id := f.Get("TrafficMirrorSessionId")
	if id == "" {
		return nil, missing("TrafficMirrorSessionId")
	}
	if s.sessions[id] == nil {
		return nil, notFound("InvalidTrafficMirrorSessionId.NotFound", id)
	}
	delete(s.sessions, id)
	return deleteSessionResponse{Xmlns: xmlns, RequestID: "ec2test", ID: id}, nil
}

type createFilterResponse struct {
	XMLName     xml.Name  `xml:"CreateTrafficMirrorFilterResponse"`
	Xmlns       string    `xml:"xmlns,attr"`
	RequestID   string    `xml:"requestId"`
	Filter      xmlFilter `xml:"trafficMirrorFilter"`
	ClientToken string    `xml:"clientToken,omitempty"`
}

func (s *Server) createFilter(f url.Values) (any, *apiError) {
	key, fp, prev, aerr := s.idempotent("CreateTrafficMirrorFilter", f)
	if aerr != nil {
		return nil, aerr
	}
	if prev != nil {
		return createFilterResponse{Xmlns: xmlns, RequestID: "ec2test", Filter: prev.snapshot.(xmlFilter),
			ClientToken: f.Get("ClientToken")}, nil
	}
	tags, aerr := tagSpecs(f, "traffic-mirror-filter")
	if aerr != nil {
		return nil, aerr
	}
	fl := &Filter{ID: s.newID("tmf-"), Description: f.Get("Description"), Tags: tags}
	s.filters[fl.ID] = fl
	x := fl.xml()
	if key != "" {
		s.tokens[key] = tokenEntry{fingerprint: fp, id: fl.ID, snapshot: x}
	}
	return createFilterResponse{Xmlns: xmlns, RequestID: "ec2test", Filter: x, ClientToken: f.Get("ClientToken")}, nil
}

type createRuleResponse struct {
	XMLName     xml.Name `xml:"CreateTrafficMirrorFilterRuleResponse"`
	Xmlns       string   `xml:"xmlns,attr"`
	RequestID   string   `xml:"requestId"`
	Rule        xmlRule  `xml:"trafficMirrorFilterRule"`
	ClientToken string   `xml:"clientToken,omitempty"`
}

func (s *Server) createFilterRule(f url.Values) (any, *apiError) {
	key, fp, prev, aerr := s.idempotent("CreateTrafficMirrorFilterRule", f)
	if aerr != nil {
		return nil, aerr
	}
	if prev != nil {
		return createRuleResponse{Xmlns: xmlns, RequestID: "ec2test", Rule: prev.snapshot.(xmlRule),
			ClientToken: f.Get("ClientToken")}, nil
	}
	for _, p := range []string{"TrafficMirrorFilterId", "TrafficDirection", "RuleAction", "SourceCidrBlock", "DestinationCidrBlock"} {
		if f.Get(p) == "" {
			return nil, missing(p)
		}
	}
	fl := s.filters[f.Get("TrafficMirrorFilterId")]
	if fl == nil {
		return nil, notFound("InvalidTrafficMirrorFilterId.NotFound", f.Get("TrafficMirrorFilterId"))
	}
	dir, action := f.Get("TrafficDirection"), f.Get("RuleAction")
	if dir != "ingress" && dir != "egress" {
		return nil, badParam("Value (%s) for parameter TrafficDirection is invalid", dir)
	}
	if action != "accept" && action != "reject" {
		return nil, badParam("Value (%s) for parameter RuleAction is invalid", action)
	}
	number, _, aerr := intParam(f, "RuleNumber", 1, 32766, true)
	if aerr != nil {
		return nil, aerr
	}
	proto, _, aerr := intParam(f, "Protocol", 0, 255, false)
	if aerr != nil {
		return nil, aerr
	}
	for _, r := range fl.Rules {
		if r.Direction == dir && r.Number == number {
			return nil, &apiError{http.StatusBadRequest, "TrafficMirrorFilterRuleAlreadyExists",
				fmt.Sprintf("A rule with number %d already exists for direction %s", number, dir)}
		}
	}
	r := FilterRule{ID: s.newID("tmfr-"), Direction: dir, Action: action, Number: number, Protocol: proto,
		SourceCIDR: f.Get("SourceCidrBlock"), DestCIDR: f.Get("DestinationCidrBlock"), Description: f.Get("Description")}
	fl.Rules = append(fl.Rules, r)
	x := xmlRule{ID: r.ID, FilterID: fl.ID, Direction: dir, Number: number, Action: action, Protocol: proto,
		DestCIDR: r.DestCIDR, SourceCIDR: r.SourceCIDR, Description: r.Description}
	if key != "" {
		s.tokens[key] = tokenEntry{fingerprint: fp, id: r.ID, snapshot: x}
	}
	return createRuleResponse{Xmlns: xmlns, RequestID: "ec2test", Rule: x, ClientToken: f.Get("ClientToken")}, nil
}

type createTagsResponse struct {
	XMLName   xml.Name `xml:"CreateTagsResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	RequestID string   `xml:"requestId"`
	Return    bool     `xml:"return"`
}

func (s *Server) createTags(f url.Values) (any, *apiError) {
	ids := stringList(f, "ResourceId")
	if len(ids) == 0 {
		return nil, missing("ResourceId")
	}
	tags := map[string]string{}
	for _, t := range indexed(f, "Tag") {
		if t.Get("Key") == "" {
			return nil, badParam("Tag keys must not be empty")
		}
		tags[t.Get("Key")] = t.Get("Value")
	}
	targetsOf := make([]map[string]string, 0, len(ids))
	for _, id := range ids {
		var m map[string]string
		switch {
		case s.sessions[id] != nil:
			m = s.sessions[id].Tags
		case s.filters[id] != nil:
			m = s.filters[id].Tags
		case s.targets[id] != nil:
			m = s.targets[id].Tags
		case s.enis[id] != nil:
			m = s.enis[id].Tags
		default:
			return nil, notFound("InvalidID", id)
		}
		targetsOf = append(targetsOf, m)
	}
	for _, m := range targetsOf {
		for k, v := range tags {
			m[k] = v
		}
	}
	return createTagsResponse{Xmlns: xmlns, RequestID: "ec2test", Return: true}, nil
}
