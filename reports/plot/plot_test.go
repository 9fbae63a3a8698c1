package plot

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ipbench/ipbench/reports/summary"
)

func groups() []summary.Group {
	g := func(solver string, nfe int, psnr, sec float64) summary.Group {
		return summary.Group{Dataset: "d", Task: "sr4", Solver: solver, NFE: nfe, OK: 4,
			Metrics: map[string]summary.Stat{"psnr": {Mean: psnr, Half: 0.5, N: 4}},
			Seconds: summary.Stat{Mean: sec, Half: sec / 10, N: 4}}
	}
	return []summary.Group{g("eps", 20, 24, 0.1), g("eps", 1, 26, 0.01), g("eps", 100, 24.3, 0.5),
		g("dps", 20, 12, 0.03), g("dps", 200, 16, 0.3), {Dataset: "d", Task: "other", Solver: "eps", NFE: 1}}
}

func TestQualityFigure(t *testing.T) {
	f := Quality(groups(), "d", "sr4", "psnr", "PSNR (dB)")
	if len(f.Series) != 2 || f.Series[0].Solver != "dps" || len(f.Series[1].Points) != 3 || f.Series[1].Points[0].NFE != 1 {
		t.Fatalf("figure %+v", f)
	}
	base := filepath.Join(t.TempDir(), "psnr")
	if err := f.Save(base); err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{".png", ".svg"} {
		if st, err := os.Stat(base + ext); err != nil || st.Size() < 1000 {
			t.Errorf("%s: %v", ext, err)
		}
	}
	if err := Time(groups(), "d", "sr4").Save(filepath.Join(t.TempDir(), "time")); err != nil {
		t.Fatal(err)
	}
	if err := Quality(groups(), "d", "nothing", "psnr", "x").Save(filepath.Join(t.TempDir(), "x")); err == nil {
		t.Error("empty figure saved")
	}
}

// One NFE value per solver still makes a figure (gonum's default range
// would start at 0 on the log axis).
func TestSingleNFE(t *testing.T) {
	g := []summary.Group{{Dataset: "d", Task: "t", Solver: "eps", NFE: 20, OK: 1,
		Metrics: map[string]summary.Stat{"psnr": {Mean: 20, N: 1}}}}
	if err := Quality(g, "d", "t", "psnr", "PSNR").Save(filepath.Join(t.TempDir(), "one")); err != nil {
		t.Fatal(err)
	}
}
