package host

import (
	"strings"
	"sync"
)

// StderrTail keeps the last lines a plugin process wrote to stderr, so that
// a plugin that dies before its handshake (a Python traceback, a Go panic
// in init) is explained in the error of Open, not only in the log, where
// go-plugin shows only lines marked [WARN] or [ERROR].
type StderrTail struct {
	mu    sync.Mutex
	lines []string
	part  strings.Builder // the line being written
}

const (
	tailLines   = 12  // lines kept
	tailLineMax = 300 // bytes kept of each line
)

// Write implements io.Writer; go-plugin writes each stderr line, then its
// newline.
func (t *StderrTail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range string(b) {
		if c == '\n' {
			t.lines = append(t.lines, t.part.String())
			if len(t.lines) > tailLines {
				t.lines = t.lines[len(t.lines)-tailLines:]
			}
			t.part.Reset()
			continue
		}
		if t.part.Len() < tailLineMax {
			t.part.WriteRune(c)
		}
	}
	return len(b), nil
}

// Explain returns "" when nothing was written, else "; its stderr ended
// with:" and the last lines, indented, to follow an error message.
func (t *StderrTail) Explain() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := t.lines
	if t.part.Len() > 0 {
		lines = append(lines[:len(lines):len(lines)], t.part.String())
	}
	var b strings.Builder
	for _, l := range lines {
		if l = strings.TrimRight(l, " \t\r"); l != "" {
			b.WriteString("\n\t")
			b.WriteString(l)
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "; its stderr ended with:" + b.String()
}
