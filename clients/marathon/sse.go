package marathon

import (
	"bufio"
	"errors"
	"io"
	"strings"
)

// maxSSELine bounds one line of the event stream (an api_post_event carries
// a whole app definition; 16 MiB is far above any real one).
const maxSSELine = 16 << 20

var errLineTooLong = errors.New("event stream line longer than 16 MiB")

// sseFrame is one dispatched server-sent event.
type sseFrame struct {
	event string
	data  string
	// atEOF marks a frame that was not terminated by a blank line.
	atEOF bool
}

// sseParser reads server-sent events as the HTML living standard describes
// them: lines end with LF, CRLF or CR; a blank line dispatches; lines
// starting with ':' are comments; "field:value" with one optional space
// after the colon; several data lines are joined with "\n"; unknown fields
// are ignored; a leading UTF-8 BOM is skipped.
type sseParser struct {
	r       *bufio.Reader
	line    []byte
	skipLF  bool // the previous line ended with CR: a following LF belongs to it
	started bool
}

func newSSEParser(r io.Reader) *sseParser {
	return &sseParser{r: bufio.NewReaderSize(r, 64<<10)}
}

// readLine returns the next line without its terminator. At EOF it returns
// the unterminated rest (if any) with io.EOF.
func (p *sseParser) readLine() ([]byte, error) {
	p.line = p.line[:0]
	for {
		b, err := p.r.ReadByte()
		if err != nil {
			return p.line, err
		}
		if p.skipLF {
			p.skipLF = false
			if b == '\n' {
				continue
			}
		}
		switch b {
		case '\n':
			return p.line, nil
		case '\r':
			p.skipLF = true
			return p.line, nil
		}
		if len(p.line) >= maxSSELine {
			return nil, errLineTooLong
		}
		p.line = append(p.line, b)
	}
}

// next returns the next frame with data. It returns the read error (io.EOF
// when the server closed the stream) once no complete frame is left; a
// final frame without its blank line is returned with atEOF set.
func (p *sseParser) next() (sseFrame, error) {
	var (
		event   string
		data    strings.Builder
		hasData bool
	)
	for {
		line, err := p.readLine()
		if !p.started && len(line) > 0 {
			p.started = true
			line = trimBOM(line)
		}
		if err != nil {
			if len(line) > 0 {
				p.field(line, &event, &data, &hasData)
			}
			if hasData && err == io.EOF {
				return sseFrame{event: event, data: data.String(), atEOF: true}, nil
			}
			return sseFrame{}, err
		}
		if len(line) == 0 {
			if hasData {
				return sseFrame{event: event, data: data.String()}, nil
			}
			event = "" // a frame without data is not dispatched
			continue
		}
		p.field(line, &event, &data, &hasData)
	}
}

func (p *sseParser) field(line []byte, event *string, data *strings.Builder, hasData *bool) {
	if line[0] == ':' {
		return // comment (Marathon and proxies send them as keep-alives)
	}
	name, value := string(line), ""
	if i := strings.IndexByte(name, ':'); i >= 0 {
		name, value = name[:i], name[i+1:]
		value = strings.TrimPrefix(value, " ")
	}
	switch name {
	case "event":
		*event = value
	case "data":
		if *hasData {
			data.WriteByte('\n')
		}
		data.WriteString(value)
		*hasData = true
	}
	// "id" and "retry" are ignored: events are hints, and reconnects use
	// the client's own backoff.
}

func trimBOM(b []byte) []byte {
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		return b[3:]
	}
	return b
}
