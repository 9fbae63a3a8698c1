package plot

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Line is one named curve y(x).
type Line struct {
	Name string
	X, Y []float64
}

// Curves is a plot of plain curves, such as a training loss against the
// step.
type Curves struct {
	Title, XLabel, YLabel string
	LogY                  bool // a log scale for y (every y must then be positive)
	Lines                 []Line
}

// Save writes the curves as base.png and base.svg.
func (c Curves) Save(base string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("plot %s: %v", c.Title, r)
		}
	}()
	p := plot.New()
	p.Title.Text = c.Title
	p.X.Label.Text, p.Y.Label.Text = c.XLabel, c.YLabel
	if c.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	n := 0
	for i, l := range c.Lines {
		if len(l.X) != len(l.Y) {
			return fmt.Errorf("plot %s: line %s has %d x and %d y values", c.Title, l.Name, len(l.X), len(l.Y))
		}
		xy := make(plotter.XYs, 0, len(l.X))
		for j := range l.X {
			if math.IsNaN(l.Y[j]) || math.IsInf(l.Y[j], 0) || c.LogY && l.Y[j] <= 0 {
				continue
			}
			xy = append(xy, plotter.XY{X: l.X[j], Y: l.Y[j]})
		}
		if len(xy) == 0 {
			continue
		}
		line, err := plotter.NewLine(xy)
		if err != nil {
			return err
		}
		line.Color = palette[i%len(palette)]
		line.Width = vg.Points(1)
		p.Add(line)
		p.Legend.Add(l.Name, line)
		n += len(xy)
	}
	if n == 0 {
		return fmt.Errorf("plot %s: no data", c.Title)
	}
	return render(base, func(dc draw.Canvas) { p.Draw(dc) })
}
