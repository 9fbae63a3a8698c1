// Package plot draws quality-versus-NFE figures with gonum/plot: for one
// dataset, task and metric, a line per solver through its mean at each NFE
// (log-scale NFE axis), with a translucent band for the 95% interval, and
// the same for seconds per sample. Files are PNG and SVG.
package plot

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/ipbench/ipbench/harness/atomicfile"
	"github.com/ipbench/ipbench/reports/summary"
)

// Point is one solver's value at one NFE.
type Point struct {
	NFE        int
	Mean, Half float64
}

// Series is one solver's line.
type Series struct {
	Solver string
	Points []Point
}

// Figure is one plot.
type Figure struct {
	Title, YLabel string
	Series        []Series
}

// Quality returns the figure of metric for one dataset and task from the
// summary groups (groups of other datasets or tasks are ignored).
func Quality(groups []summary.Group, dataset, task, metric, ylabel string) Figure {
	f := Figure{Title: fmt.Sprintf("%s, %s: %s", dataset, task, ylabel), YLabel: ylabel}
	return f.fill(groups, dataset, task, func(g summary.Group) (summary.Stat, bool) {
		s, ok := g.Metrics[metric]
		return s, ok
	})
}

// Time returns the seconds-per-sample figure of one dataset and task.
func Time(groups []summary.Group, dataset, task string) Figure {
	f := Figure{Title: fmt.Sprintf("%s, %s: seconds per sample", dataset, task), YLabel: "seconds per sample"}
	return f.fill(groups, dataset, task, func(g summary.Group) (summary.Stat, bool) { return g.Seconds, g.OK > 0 })
}

func (f Figure) fill(groups []summary.Group, dataset, task string, get func(summary.Group) (summary.Stat, bool)) Figure {
	by := map[string][]Point{}
	for _, g := range groups {
		if g.Dataset != dataset || g.Task != task {
			continue
		}
		s, ok := get(g)
		if !ok || math.IsNaN(s.Mean) {
			continue
		}
		by[g.Solver] = append(by[g.Solver], Point{NFE: g.NFE, Mean: s.Mean, Half: s.Half})
	}
	var names []string
	for n := range by {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		pts := by[n]
		sort.Slice(pts, func(i, j int) bool { return pts[i].NFE < pts[j].NFE })
		f.Series = append(f.Series, Series{Solver: n, Points: pts})
	}
	return f
}

// Save writes the figure as base.png and base.svg (7.2×4 inches, the
// legend in a strip right of the axes).
func (f Figure) Save(base string) (err error) {
	if len(f.Series) == 0 {
		return fmt.Errorf("plot %s: no data", f.Title)
	}
	// gonum/plot panics on some degenerate inputs; a report goes on without
	// the figure rather than die.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("plot %s: %v", f.Title, r)
		}
	}()
	p := plot.New()
	p.Title.Text = f.Title
	p.X.Label.Text = "NFE (log scale)"
	p.Y.Label.Text = f.YLabel
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	// The legend is drawn in a strip of its own right of the axes (see
	// below), so that it never covers a line or a band, however many
	// solvers there are.
	leg := plot.NewLegend()
	leg.Top, leg.Left = true, true
	leg.Padding = vg.Points(4)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range f.Series {
		for _, pt := range s.Points {
			lo, hi = math.Min(lo, pt.Mean-pt.Half), math.Max(hi, pt.Mean+pt.Half)
		}
	}
	span := hi - lo
	if span == 0 {
		span = math.Max(math.Abs(hi), 1)
	}
	p.Y.Min = lo - 0.05*span
	// The NFE axis is set here: gonum's own range would start at 0 for a
	// single NFE value, which a log scale cannot show.
	nlo, nhi := math.Inf(1), math.Inf(-1)
	for _, s := range f.Series {
		for _, pt := range s.Points {
			nlo, nhi = math.Min(nlo, float64(pt.NFE)), math.Max(nhi, float64(pt.NFE))
		}
	}
	if !(nlo > 0) {
		return fmt.Errorf("plot %s: NFE values must be positive on a log scale", f.Title)
	}
	p.X.Min, p.X.Max = nlo/1.3, nhi*1.3
	p.Y.Max = hi + 0.05*span
	for i, s := range f.Series {
		c := palette[i%len(palette)]
		if len(s.Points) > 1 {
			band, err := plotter.NewPolygon(bandOf(s.Points))
			if err != nil {
				return err
			}
			band.Color = withAlpha(c, 0x40)
			band.LineStyle.Width = 0
			p.Add(band)
		}
		xy := make(plotter.XYs, len(s.Points))
		for j, pt := range s.Points {
			xy[j].X, xy[j].Y = float64(pt.NFE), pt.Mean
		}
		line, points, err := plotter.NewLinePoints(xy)
		if err != nil {
			return err
		}
		line.Color, points.Color = c, c
		line.Width = vg.Points(1.5)
		if i >= len(palette) {
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		points.Shape = plotutil.Shape(i)
		p.Add(line, points)
		leg.Add(s.Solver, line, points)
	}
	const strip = 1.2 * vg.Inch
	return render(base, func(dc draw.Canvas) {
		p.Draw(draw.Crop(dc, 0, -strip, 0, 0))
		leg.Draw(draw.Crop(dc, figW-strip, 0, 0, -vg.Points(8)))
	})
}

// The size of every figure.
const figW, figH = 7.2 * vg.Inch, 4 * vg.Inch

// render draws a figure with paint and writes it as base.png (96 dpi) and
// base.svg.
func render(base string, paint func(draw.Canvas)) error {
	for _, ext := range []string{".png", ".svg"} {
		var c vg.CanvasWriterTo
		if ext == ".png" {
			c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(figW, figH), vgimg.UseDPI(96))}
		} else {
			c = vgsvg.New(figW, figH)
		}
		paint(draw.New(c))
		if err := writeTo(base+ext, c); err != nil {
			return fmt.Errorf("plot %s: %w", filepath.Base(base+ext), err)
		}
	}
	return nil
}

// palette holds twelve colours told apart easily (Tableau 10 and two
// more); a thirteenth solver reuses them with dashed lines.
var palette = []color.Color{
	color.NRGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, color.NRGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	color.NRGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, color.NRGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	color.NRGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, color.NRGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
	color.NRGBA{R: 0xe3, G: 0x77, B: 0xc2, A: 0xff}, color.NRGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff},
	color.NRGBA{R: 0xbc, G: 0xbd, B: 0x22, A: 0xff}, color.NRGBA{R: 0x17, G: 0xbe, B: 0xcf, A: 0xff},
	color.NRGBA{R: 0x00, G: 0x00, B: 0x00, A: 0xff}, color.NRGBA{R: 0x00, G: 0x00, B: 0x80, A: 0xff},
}

// writeTo writes c to path atomically.
func writeTo(path string, c vg.CanvasWriterTo) error {
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return err
	}
	return atomicfile.Write(path, buf.Bytes())
}

// bandOf is the polygon mean + half along the NFE axis and back along
// mean − half.
func bandOf(pts []Point) plotter.XYs {
	xy := make(plotter.XYs, 0, 2*len(pts))
	for _, p := range pts {
		xy = append(xy, plotter.XY{X: float64(p.NFE), Y: p.Mean + p.Half})
	}
	for i := len(pts) - 1; i >= 0; i-- {
		xy = append(xy, plotter.XY{X: float64(pts[i].NFE), Y: pts[i].Mean - pts[i].Half})
	}
	return xy
}

func withAlpha(c color.Color, a uint8) color.Color {
	r, g, b, _ := c.RGBA()
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: a}
}
