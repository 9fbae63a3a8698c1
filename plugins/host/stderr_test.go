package host

import (
	"fmt"
	"strings"
	"testing"
)

// The tail of a plugin's stderr keeps the last lines, each cut to a
// bounded length, and the line being written.
func TestStderrTail(t *testing.T) {
	var tail StderrTail
	if got := tail.Explain(); got != "" {
		t.Errorf("empty tail explains %q", got)
	}
	for i := range 20 {
		fmt.Fprintf(&tail, "line %d\n", i)
	}
	tail.Write([]byte(strings.Repeat("x", 1000)))
	got := tail.Explain()
	if !strings.HasPrefix(got, "; its stderr ended with:\n\tline 8\n") || strings.Contains(got, "line 7\n") ||
		!strings.HasSuffix(got, "\n\t"+strings.Repeat("x", tailLineMax)) {
		t.Errorf("tail explains %q", got)
	}
}
