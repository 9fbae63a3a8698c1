// Package html renders a benchmark report as one self-contained HTML page:
// a title with provenance notes, a table of contents, and per (dataset,
// task) section a results table, the quality- and time-versus-NFE plots and
// an image grid. The page needs no other file, no script and no network:
// the CSS is inline and every image is embedded as a base64 PNG data: URI.
//
// All text goes through html/template, so solver names, headings and
// captions are escaped by context. Input is checked before anything is
// written; Write returns an error naming the offending section, row or plot
// and writes nothing when the input is wrong.
package html

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"image"
	"image/png"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode"
)

// DefaultImageSize is the display size, in CSS pixels, of the longer side of
// a grid image when Grid.Size is 0: a 64×64 thumbnail is shown at 128×128.
const DefaultImageSize = 128

// Page is one report.
type Page struct {
	Title    string    // page title; "ipbench report" when empty
	Notes    []string  // provenance lines shown under the title (config hash, versions, date)
	Sections []Section // one per (dataset, task)
}

// Section is the part of a report for one dataset and task.
type Section struct {
	Heading string // e.g. "thumbnails, sr4"; also gives the section's anchor
	Table   Table  // omitted when it has neither header nor rows
	Plots   []Plot // quality-vs-NFE and time-vs-NFE PNGs made by reports/plot
	Grid    *Grid  // image grid, may be nil
}

// Table is a results table. Every row has as many cells as the header. A
// column whose cells all read as numbers (such as "31.2", "0.98 (0.01)",
// "n/a") is right-aligned; other columns are left-aligned.
type Table struct {
	Header  []string
	Rows    [][]Cell
	Caption string
}

// Cell is one table cell.
type Cell struct {
	Text string
	Best bool // shown bold: the best value of its column
}

// Plot is an already-encoded PNG figure.
type Plot struct {
	Caption string
	PNG     []byte
}

// Grid is a grid of images: a column per kind of image (such as "truth",
// "measurement", "eps NFE 20"), a row per example.
type Grid struct {
	Columns []string
	Rows    []GridRow
	Caption string
	Size    int // display size in CSS pixels of an image's longer side; 0 means DefaultImageSize
}

// GridRow is one row of a Grid. It has one image per column; a nil image is
// an empty cell.
type GridRow struct {
	Label  string
	Images []image.Image
}

// Write renders p as a complete HTML document to w. When p is invalid it
// returns an error and writes nothing.
func Write(w io.Writer, p Page) error {
	v, err := build(p)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := page.Execute(&b, v); err != nil {
		return fmt.Errorf("html: %w", err)
	}
	_, err = w.Write(b.Bytes())
	return err
}

// The view types hold what the template shows, already checked and encoded.

type pageView struct {
	Title    string
	Notes    []string
	Sections []sectionView
}

type sectionView struct {
	ID, Heading string
	Table       *tableView
	Plots       []plotView
	Grid        *gridView
}

type tableView struct {
	Caption string
	Header  []headView
	Rows    [][]cellView
}

type headView struct {
	Text string
	Num  bool
}

type cellView struct {
	Text      string
	Best, Num bool
}

type plotView struct {
	Caption       string
	Src           template.URL
	Width, Height int
}

type gridView struct {
	Caption string
	Columns []string
	Rows    []gridRowView
	Size    int
}

type gridRowView struct {
	Label string
	Cells []imgView
}

type imgView struct {
	Src           template.URL // empty for an empty cell
	Alt           string
	Width, Height int  // display size
	Pixelated     bool // enlarged: keep the pixels sharp
}

func build(p Page) (pageView, error) {
	v := pageView{Title: p.Title, Notes: p.Notes}
	if v.Title == "" {
		v.Title = "ipbench report"
	}
	ids := newIDs("contents")
	for i, s := range p.Sections {
		sv, err := buildSection(s)
		if err != nil {
			return pageView{}, fmt.Errorf("html: section %d (%q): %w", i, s.Heading, err)
		}
		if sv.Heading == "" {
			sv.Heading = "Section " + strconv.Itoa(i+1)
		}
		sv.ID = ids.next(sv.Heading)
		v.Sections = append(v.Sections, sv)
	}
	return v, nil
}

func buildSection(s Section) (sectionView, error) {
	v := sectionView{Heading: s.Heading}
	t, err := buildTable(s.Table)
	if err != nil {
		return v, err
	}
	v.Table = t
	for i, pl := range s.Plots {
		cfg, err := checkPNG(pl.PNG)
		if err != nil {
			return v, fmt.Errorf("plot %d (%q): %w", i, pl.Caption, err)
		}
		v.Plots = append(v.Plots, plotView{
			Caption: pl.Caption,
			Src:     dataURI(pl.PNG),
			Width:   cfg.Width,
			Height:  cfg.Height,
		})
	}
	if s.Grid != nil {
		g, err := buildGrid(*s.Grid)
		if err != nil {
			return v, err
		}
		v.Grid = g
	}
	return v, nil
}

func buildTable(t Table) (*tableView, error) {
	if len(t.Header) == 0 && len(t.Rows) == 0 {
		return nil, nil
	}
	for i, r := range t.Rows {
		if len(r) != len(t.Header) {
			return nil, fmt.Errorf("table row %d has %d cells for %d columns", i, len(r), len(t.Header))
		}
	}
	v := &tableView{Caption: t.Caption}
	num := make([]bool, len(t.Header))
	for j := range num {
		num[j] = numericColumn(t.Rows, j)
		v.Header = append(v.Header, headView{Text: t.Header[j], Num: num[j]})
	}
	for _, r := range t.Rows {
		row := make([]cellView, len(r))
		for j, c := range r {
			row[j] = cellView{Text: c.Text, Best: c.Best, Num: num[j]}
		}
		v.Rows = append(v.Rows, row)
	}
	return v, nil
}

// numericColumn reports whether column j holds numbers: at least one cell
// starts like a number and every other cell does too or is a placeholder
// ("", "n/a", "-", "—").
func numericColumn(rows [][]Cell, j int) bool {
	seen := false
	for _, r := range rows {
		f := strings.Fields(r[j].Text)
		if len(f) == 0 {
			continue
		}
		switch first := strings.Trim(f[0], "*"); first {
		case "n/a", "-", "—", "–":
			continue
		default:
			s := strings.TrimSuffix(strings.TrimPrefix(first, "+"), "%")
			if _, err := strconv.ParseFloat(s, 64); err != nil {
				return false
			}
			seen = true
		}
	}
	return seen
}

func buildGrid(g Grid) (*gridView, error) {
	size := g.Size
	if size < 0 {
		return nil, fmt.Errorf("grid: negative display size %d", size)
	}
	if size == 0 {
		size = DefaultImageSize
	}
	v := &gridView{Caption: g.Caption, Columns: g.Columns, Size: size}
	for i, r := range g.Rows {
		if len(r.Images) != len(g.Columns) {
			return nil, fmt.Errorf("grid row %d (%q) has %d images for %d columns", i, r.Label, len(r.Images), len(g.Columns))
		}
		rv := gridRowView{Label: r.Label}
		for j, img := range r.Images {
			alt := r.Label + ", " + g.Columns[j]
			if isNil(img) {
				rv.Cells = append(rv.Cells, imgView{Alt: alt, Width: size, Height: size})
				continue
			}
			iv, err := encodeImage(img, size)
			if err != nil {
				return nil, fmt.Errorf("grid row %d (%q), column %d (%q): %w", i, r.Label, j, g.Columns[j], err)
			}
			iv.Alt = alt
			rv.Cells = append(rv.Cells, iv)
		}
		v.Rows = append(v.Rows, rv)
	}
	return v, nil
}

// isNil reports whether img is nil, including a typed nil pointer such as
// (*image.RGBA)(nil), which would panic in Bounds.
func isNil(img image.Image) bool {
	if img == nil {
		return true
	}
	rv := reflect.ValueOf(img)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		return rv.IsNil()
	}
	return false
}

// encodeImage encodes img as PNG and sizes it for display: its longer side
// becomes size CSS pixels, keeping the aspect ratio.
func encodeImage(img image.Image, size int) (v imgView, err error) {
	// A broken image.Image implementation must not take the report down.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("encoding image: %v", r)
		}
	}()
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return v, fmt.Errorf("image is empty (%d×%d)", w, h)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return v, fmt.Errorf("encoding image: %w", err)
	}
	scale := float64(size) / float64(max(w, h))
	return imgView{
		Src:       dataURI(buf.Bytes()),
		Width:     max(1, int(math.Round(float64(w)*scale))),
		Height:    max(1, int(math.Round(float64(h)*scale))),
		Pixelated: scale > 1,
	}, nil
}

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// checkPNG decodes b fully and returns its size; it fails unless b is a
// whole, valid PNG.
func checkPNG(b []byte) (image.Config, error) {
	if len(b) == 0 {
		return image.Config{}, errors.New("no PNG bytes")
	}
	if !bytes.HasPrefix(b, pngMagic) {
		return image.Config{}, errors.New("bytes are not a PNG (no PNG signature)")
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return image.Config{}, fmt.Errorf("bytes are not a valid PNG: %w", err)
	}
	r := img.Bounds()
	return image.Config{Width: r.Dx(), Height: r.Dy()}, nil
}

// dataURI marks as safe a URI built here from PNG bytes, never from input
// text.
func dataURI(pngBytes []byte) template.URL {
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(pngBytes))
}

// ids hands out unique HTML ids made from headings.
type ids map[string]bool

func newIDs(reserved ...string) ids {
	m := ids{}
	for _, r := range reserved {
		m[r] = true
	}
	return m
}

// next returns the slug of heading, made unique with a "-2", "-3", …
// suffix when taken.
func (m ids) next(heading string) string {
	base := slug(heading)
	id := base
	for n := 2; m[id]; n++ {
		id = base + "-" + strconv.Itoa(n)
	}
	m[id] = true
	return id
}

// slug turns a heading into an id of lower-case ASCII letters, digits and
// single hyphens, starting with a letter: "thumbnails, sr4" → "thumbnails-sr4".
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	out := b.String()
	if out == "" || !unicode.IsLetter(rune(out[0])) {
		out = "s-" + out
		out = strings.TrimSuffix(out, "-")
	}
	return out
}

var page = template.Must(template.New("page").Parse(pageTemplate))

const pageTemplate = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  color: #1f2328; background: #fff; margin: 0 auto; padding: 1.5rem 2rem 3rem; max-width: 1360px; }
h1 { font-size: 1.6rem; margin: 0 0 .4rem; }
h2 { font-size: 1.3rem; margin: 0 0 .6rem; }
ul.notes { list-style: none; padding: 0; margin: 0 0 1.2rem; color: #59636e;
  font: .82rem/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
nav.toc { display: inline-block; min-width: 16rem; border: 1px solid #d1d9e0; border-radius: 6px;
  background: #f6f8fa; padding: .5rem 1.2rem .6rem; }
nav.toc h2 { font-size: 1rem; margin: .2rem 0; }
nav.toc ol { margin: 0; padding-left: 1.4rem; }
a { color: #0969da; text-decoration: none; }
a:hover { text-decoration: underline; }
section { margin-top: 2.2rem; padding-top: .8rem; border-top: 2px solid #d1d9e0; }
.scroll { overflow-x: auto; max-width: 100%; }
table.results { border-collapse: collapse; font-size: .9rem; margin: .2rem 0 .6rem; }
table.results caption { caption-side: top; text-align: left; color: #59636e; padding: 0 0 .3rem; }
table.results th, table.results td { border: 1px solid #d1d9e0; padding: .3rem .65rem; white-space: nowrap; text-align: left; }
table.results thead th { background: #eaeef2; font-weight: 600; }
table.results tbody tr:nth-child(even) { background: #f6f8fa; }
table.results tbody tr:hover { background: #fff8c5; }
table.results .num { text-align: right; font-variant-numeric: tabular-nums; }
.plots { display: flex; flex-wrap: wrap; gap: 1rem 1.5rem; margin: 1rem 0; }
.plots figure { flex: 1 1 420px; max-width: 640px; margin: 0; }
.plots img { display: block; width: 100%; max-width: 640px; height: auto; border: 1px solid #d1d9e0; }
figcaption, table.grid caption { font-size: .85rem; color: #59636e; margin-top: .3rem; text-align: left; }
table.grid { border-collapse: separate; border-spacing: 4px; margin-top: .6rem; }
table.grid caption { caption-side: bottom; }
table.grid th { font-size: .8rem; font-weight: 600; }
table.grid thead th { vertical-align: bottom; text-align: center; overflow-wrap: anywhere; }
table.grid tbody th { text-align: right; padding-right: .4rem; white-space: nowrap; }
table.grid td { padding: 0; vertical-align: middle; }
table.grid img { display: block; margin: 0 auto; }
img.px { image-rendering: pixelated; }
.empty { margin: 0 auto; background: repeating-linear-gradient(45deg, #f6f8fa 0 6px, #eaeef2 6px 12px); }
</style>
</head>
<body>
<header>
<h1>{{.Title}}</h1>
{{- if .Notes}}
<ul class="notes">
{{- range .Notes}}
<li>{{.}}</li>
{{- end}}
</ul>
{{- end}}
{{- if .Sections}}
<nav class="toc" id="contents">
<h2>Contents</h2>
<ol>
{{- range .Sections}}
<li><a href="#{{.ID}}">{{.Heading}}</a></li>
{{- end}}
</ol>
</nav>
{{- end}}
</header>
<main>
{{- range .Sections}}
<section id="{{.ID}}">
<h2>{{.Heading}}</h2>
{{- with .Table}}
<div class="scroll">
<table class="results">
{{- if .Caption}}
<caption>{{.Caption}}</caption>
{{- end}}
<thead><tr>{{range .Header}}<th scope="col"{{if .Num}} class="num"{{end}}>{{.Text}}</th>{{end}}</tr></thead>
<tbody>
{{- range .Rows}}
<tr>{{range .}}<td{{if .Num}} class="num"{{end}}>{{if .Best}}<strong>{{.Text}}</strong>{{else}}{{.Text}}{{end}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
</div>
{{- end}}
{{- if .Plots}}
<div class="plots">
{{- range .Plots}}
<figure>
<img src="{{.Src}}" width="{{.Width}}" height="{{.Height}}" alt="{{.Caption}}">
{{- if .Caption}}
<figcaption>{{.Caption}}</figcaption>
{{- end}}
</figure>
{{- end}}
</div>
{{- end}}
{{- with .Grid}}
<div class="scroll">
<table class="grid">
{{- if .Caption}}
<caption>{{.Caption}}</caption>
{{- end}}
<thead><tr><th></th>{{range .Columns}}<th scope="col">{{.}}</th>{{end}}</tr></thead>
<tbody>
{{- range .Rows}}
<tr><th scope="row">{{.Label}}</th>
{{- range .Cells}}
<td>{{if .Src}}<img{{if .Pixelated}} class="px"{{end}} src="{{.Src}}" width="{{.Width}}" height="{{.Height}}" alt="{{.Alt}}">{{else}}<div class="empty" style="width: {{.Width}}px; height: {{.Height}}px"></div>{{end}}</td>
{{- end}}
</tr>
{{- end}}
</tbody>
</table>
</div>
{{- end}}
</section>
{{- end}}
</main>
</body>
</html>
`
