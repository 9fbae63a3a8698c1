package table

import (
	"bytes"
	"strings"
	"testing"
)

func TestMarkdown(t *testing.T) {
	tb := New("solver", "NFE", "SW₂")
	tb.Append("eps", "100", "0.106")
	tb.Append("dps", "1000", "17.368")
	var b bytes.Buffer
	if err := tb.Render(&b, Markdown); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4:\n%s", len(lines), b.String())
	}
	for i, want := range [][]string{{"solver", "NFE", "SW₂"}, nil, {"eps", "100", "0.106"}, {"dps", "1000", "17.368"}} {
		cells := strings.Split(strings.Trim(lines[i], "| "), "|")
		if want == nil {
			continue
		}
		for j, c := range cells {
			if strings.TrimSpace(c) != want[j] {
				t.Errorf("line %d cell %d = %q, want %q", i, j, strings.TrimSpace(c), want[j])
			}
		}
	}
	if !strings.HasPrefix(lines[1], "|") || !strings.Contains(lines[1], "---") {
		t.Errorf("no Markdown separator line: %q", lines[1])
	}
}

func TestRowWidth(t *testing.T) {
	tb := New("a", "b")
	tb.Append("1")
	if err := tb.Render(&bytes.Buffer{}, Terminal); err == nil {
		t.Error("short row: no error")
	}
}
