package run

import (
	"bytes"
	"strings"
	"testing"
)

func TestProgress(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, false, 3)
	p.step(Batch{Dataset: "d", Image: "i", Task: "sr4", Solver: "eps", NFE: 5}, "ok")
	p.step(Batch{}, "failed")
	p.step(Batch{Dataset: "d", Image: "j", Task: "sr4", Solver: "eps", NFE: 5}, "ok")
	p.finish()
	out := b.String()
	// Not a terminal: plain lines, at least the last one, no bar.
	if !strings.Contains(out, "3/3 batches (1 failed)") || strings.Contains(out, "[#") || strings.Contains(out, "\r") {
		t.Errorf("plain progress:\n%q", out)
	}
	b.Reset()
	p = newProgress(&b, true, 2)
	p.step(Batch{}, "ok")
	p.finish()
	if !strings.Contains(b.String(), "\r[###############...............] 1/2 batches") {
		t.Errorf("terminal progress:\n%q", b.String())
	}
}
