package app

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/wirebridge/wirebridge/internal/event"
	"github.com/wirebridge/wirebridge/internal/packet"
	"github.com/wirebridge/wirebridge/internal/packet/capfile"
	"github.com/wirebridge/wirebridge/pattern"
)

// readSink writes decoded packets in one output format.
type readSink interface {
	write(p *packet.Packet) (bool, error)
	skipped() int64
	flush() error
}

func newReadSink(o readOptions, w io.Writer) (readSink, error) {
	var s readSink
	switch o.format {
	case "text":
		s = &textSink{w: w, fmt: textFormatter{tab: o.table}}
	case "pcap":
		s = &pcapSink{w: w}
	default:
		es, err := newEventSink(o, w)
		if err != nil {
			return nil, err
		}
		s = es
	}
	if o.pattern != "" {
		return newFilterSink(o, s)
	}
	return s, nil
}

type textSink struct {
	w   io.Writer
	fmt textFormatter
	buf []byte
}

func (s *textSink) write(p *packet.Packet) (bool, error) {
	s.buf = s.fmt.appendText(s.buf[:0], p)
	_, err := s.w.Write(s.buf)
	return err == nil, err
}

func (s *textSink) skipped() int64 { return 0 }
func (s *textSink) flush() error   { return nil }

// pcapSink writes the original frames. A pcap file has one link type: the
// first packet's. Packets of another link type (possible in pcapng) are
// skipped and counted.
type pcapSink struct {
	w    io.Writer
	pw   *capfile.Writer
	link packet.LinkType
	skip int64
}

func (s *pcapSink) write(p *packet.Packet) (bool, error) {
	if s.pw == nil {
		s.link = p.Info.LinkType
		pw, err := capfile.NewWriter(s.w, s.link, 262144, true)
		if err != nil {
			return false, fmt.Errorf("pcap writer: %w", err)
		}
		s.pw = pw
	}
	if p.Info.LinkType != s.link {
		s.skip++
		return false, nil
	}
	if err := s.pw.WritePacket(p.Info, p.Data); err != nil {
		return false, err
	}
	return true, nil
}

func (s *pcapSink) skipped() int64 { return s.skip }

func (s *pcapSink) flush() error {
	if s.pw == nil {
		return nil
	}
	return s.pw.Flush()
}

// eventSink writes one event per packet as NDJSON or CloudEvents.
type eventSink struct {
	w     io.Writer
	enc   event.Encoder
	meta  event.Meta
	cloud bool
	buf   []byte
}

func newEventSink(o readOptions, w io.Writer) (*eventSink, error) {
	return &eventSink{
		w:     w,
		enc:   event.Encoder{Dissect: o.table},
		meta:  event.Meta{Listener: o.listener, SourceType: "pcap", Source: o.eventSource},
		cloud: o.format == "cloudevents",
	}, nil
}

func (s *eventSink) encode(p *packet.Packet) []byte {
	if s.cloud {
		s.buf = s.enc.AppendCloudEvent(s.buf[:0], p, s.meta)
	} else {
		s.buf = s.enc.AppendJSON(s.buf[:0], p, s.meta)
	}
	return append(s.buf, '\n')
}

func (s *eventSink) write(p *packet.Packet) (bool, error) {
	s.buf = s.encode(p)
	_, err := s.w.Write(s.buf)
	return err == nil, err
}

func (s *eventSink) skipped() int64 { return 0 }
func (s *eventSink) flush() error   { return nil }

// filterSink passes on only the packets whose event matches the pattern. It
// matches on the packet view (event.View): no JSON is built for packets the
// pattern rejects.
type filterSink struct {
	next readSink
	pat  *pattern.Pattern
	enc  event.Encoder
	meta event.Meta
	view event.View
}

func newFilterSink(o readOptions, next readSink) (*filterSink, error) {
	src, err := patternArg(o.pattern)
	if err != nil {
		return nil, usageError{fmt.Errorf("--pattern: %w", err)}
	}
	pat, err := compilePatternArg("--pattern", src)
	if err != nil {
		return nil, usageError{fmt.Errorf("--pattern: %w", err)}
	}
	return &filterSink{next: next, pat: pat, enc: event.Encoder{Dissect: o.table}, meta: event.Meta{Listener: o.listener, SourceType: "pcap", Source: o.eventSource}}, nil
}

func (s *filterSink) write(p *packet.Packet) (bool, error) {
	s.view.Reset(&s.enc, p, s.meta)
	if !s.pat.Match(&s.view) {
		return false, nil
	}
	return s.next.write(p)
}

func (s *filterSink) skipped() int64 { return s.next.skipped() }
func (s *filterSink) flush() error   { return s.next.flush() }

// patternArg returns a --pattern value: inline JSON, or @FILE.
func patternArg(v string) ([]byte, error) {
	if strings.HasPrefix(v, "@") {
		b, err := os.ReadFile(v[1:])
		if err != nil {
			return nil, fmt.Errorf("read pattern file: %w", err)
		}
		return b, nil
	}
	return []byte(v), nil
}
