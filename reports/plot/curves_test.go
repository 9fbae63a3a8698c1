package plot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCurves(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "loss")
	c := Curves{Title: "loss", XLabel: "step", YLabel: "loss", LogY: true, Lines: []Line{
		{Name: "raw", X: []float64{1, 2, 3}, Y: []float64{1, 0.5, 0}}, // the 0 cannot be on a log scale: left out
		{Name: "mean", X: []float64{1, 2, 3}, Y: []float64{1, 0.7, 0.4}},
	}}
	if err := c.Save(base); err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{".png", ".svg"} {
		data, err := os.ReadFile(base + ext)
		if err != nil || len(data) < 1000 {
			t.Errorf("%s: %d bytes, %v", ext, len(data), err)
		}
	}
	svg, _ := os.ReadFile(base + ".svg")
	if !strings.Contains(string(svg), "mean") {
		t.Error("the legend is missing from the SVG")
	}
	bad := []Curves{
		{Title: "x", Lines: []Line{{Name: "a", X: []float64{1}, Y: []float64{1, 2}}}},
		{Title: "x", LogY: true, Lines: []Line{{Name: "a", X: []float64{1}, Y: []float64{-1}}}},
	}
	for _, b := range bad {
		if err := b.Save(base); err == nil {
			t.Errorf("%+v: no error", b)
		}
	}
}
