package run

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress shows counts, rate and ETA: a bar redrawn on one line on a
// terminal, or a plain line every 10 s (and at the end) elsewhere (CI, logs).
type progress struct {
	w        io.Writer
	terminal bool
	total    int
	n, fail  int
	start    time.Time
	last     time.Time
}

func newProgress(w io.Writer, terminal bool, total int) *progress {
	now := time.Now()
	return &progress{w: w, terminal: terminal, total: total, start: now, last: now}
}

func (p *progress) step(b Batch, status string) {
	p.n++
	if status != "ok" {
		p.fail++
	}
	if p.w == nil {
		return
	}
	now := time.Now()
	if p.terminal {
		fmt.Fprintf(p.w, "\r%s", p.line(now))
		return
	}
	if now.Sub(p.last) >= 10*time.Second || p.n == p.total {
		fmt.Fprintln(p.w, p.line(now), "·", b.Dataset, b.Image, b.Task, b.Solver, b.NFE, "NFE")
		p.last = now
	}
}

func (p *progress) line(now time.Time) string {
	el := now.Sub(p.start)
	rate := float64(p.n) / el.Seconds()
	eta := "?"
	if rate > 0 {
		eta = time.Duration(float64(p.total-p.n) / rate * float64(time.Second)).Round(time.Second).String()
	}
	bar := ""
	if p.terminal {
		const width = 30
		filled := 0
		if p.total > 0 {
			filled = width * p.n / p.total
		}
		bar = "[" + strings.Repeat("#", filled) + strings.Repeat(".", width-filled) + "] "
	}
	return fmt.Sprintf("%s%d/%d batches (%d failed), %.2f batch/s, ETA %s", bar, p.n, p.total, p.fail, rate, eta)
}

func (p *progress) finish() {
	if p.w != nil && p.terminal && p.n > 0 {
		fmt.Fprintln(p.w)
	}
}
