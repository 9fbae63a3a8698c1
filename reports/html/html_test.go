package html

import (
	"bytes"
	"encoding/base64"
	stdhtml "html"
	"image"
	"image/color"
	"image/png"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var (
	red   = color.RGBA{255, 0, 0, 255}
	green = color.RGBA{0, 255, 0, 255}
	blue  = color.RGBA{0, 0, 255, 255}
)

// asym returns a w×h image, green with a red top-left and a blue
// bottom-right pixel, so flips, transposes and channel swaps show.
func asym(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetRGBA(x, y, green)
		}
	}
	m.SetRGBA(0, 0, red)
	m.SetRGBA(w-1, h-1, blue)
	return m
}

// pngOf encodes a w×h image as PNG.
func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, asym(w, h)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func render(t *testing.T, p Page) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, p); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return b.String()
}

// sample is a page with two sections, two plots (640×480 and 320×240) and a
// 2×3 grid holding five images (one cell empty).
func sample(t *testing.T) Page {
	return Page{
		Title: "ipbench: EPS vs baselines",
		Notes: []string{"config sha256 0123abcd", "go1.26, 2026-01-01"},
		Sections: []Section{
			{
				Heading: "thumbnails, sr4",
				Table: Table{
					Header: []string{"solver", "NFE", "PSNR", "LPIPS"},
					Rows: [][]Cell{
						{{Text: "eps"}, {Text: "20"}, {Text: "31.2 (0.4)", Best: true}, {Text: "0.081", Best: true}},
						{{Text: "dps"}, {Text: "1000"}, {Text: "27.9 (0.6)"}, {Text: "n/a"}},
					},
					Caption: "mean (95% half-width)",
				},
				Plots: []Plot{
					{Caption: "PSNR vs NFE", PNG: pngOf(t, 640, 480)},
					{Caption: "seconds vs NFE", PNG: pngOf(t, 320, 240)},
				},
				Grid: &Grid{
					Columns: []string{"truth", "measurement", "eps NFE 20"},
					Rows: []GridRow{
						{Label: "img 0", Images: []image.Image{asym(64, 64), asym(16, 16), asym(64, 32)}},
						{Label: "img 1", Images: []image.Image{asym(64, 64), nil, asym(8, 8)}},
					},
					Caption: "first two images",
				},
			},
			{Heading: "gmm, inpaint"},
		},
	}
}

var (
	imgTag = regexp.MustCompile(`<img\b[^>]*>`)
	srcAt  = regexp.MustCompile(`src="([^"]*)"`)
	wAt    = regexp.MustCompile(`\bwidth="(\d+)"`)
	hAt    = regexp.MustCompile(`\bheight="(\d+)"`)
	anyURI = regexp.MustCompile(`data:[^"'\s)]*`)
)

// decodeURI decodes a data: URI, as written in an HTML attribute, that must
// hold a base64 PNG. html/template writes '+' as "&#43;": the attribute is
// unescaped first, as a browser does.
func decodeURI(t *testing.T, attr string) image.Image {
	t.Helper()
	uri := stdhtml.UnescapeString(attr)
	const prefix = "data:image/png;base64,"
	if !strings.HasPrefix(uri, prefix) {
		t.Fatalf("data URI %.40q… is not a base64 PNG URI", uri)
	}
	raw, err := base64.StdEncoding.DecodeString(uri[len(prefix):])
	if err != nil {
		t.Fatalf("base64: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("png: %v", err)
	}
	return img
}

func TestImages(t *testing.T) {
	out := render(t, sample(t))
	tags := imgTag.FindAllString(out, -1)
	// 2 plots + 5 non-nil grid images.
	if len(tags) != 7 {
		t.Fatalf("%d <img> tags, want 7", len(tags))
	}
	if n := len(anyURI.FindAllString(out, -1)); n != 7 {
		t.Errorf("%d data: URIs, want 7 (one per <img>)", n)
	}
	type want struct {
		w, h         int // pixel size
		dispW, dispH int // display size
		px           bool
	}
	wants := []want{
		{640, 480, 640, 480, false},
		{320, 240, 320, 240, false},
		{64, 64, 128, 128, true},
		{16, 16, 128, 128, true},
		{64, 32, 128, 64, true}, // aspect ratio kept
		{64, 64, 128, 128, true},
		{8, 8, 128, 128, true},
	}
	for i, tag := range tags {
		m := srcAt.FindStringSubmatch(tag)
		if m == nil {
			t.Fatalf("img %d has no src: %.80s", i, tag)
		}
		img := decodeURI(t, m[1])
		w := wants[i]
		if b := img.Bounds(); b.Dx() != w.w || b.Dy() != w.h {
			t.Errorf("img %d decodes to %d×%d, want %d×%d", i, b.Dx(), b.Dy(), w.w, w.h)
		}
		// Orientation and colours survive the round trip.
		b := img.Bounds()
		for _, c := range []struct {
			x, y int
			col  color.RGBA
		}{{b.Min.X, b.Min.Y, red}, {b.Max.X - 1, b.Max.Y - 1, blue}, {b.Max.X - 1, b.Min.Y, green}, {b.Min.X, b.Max.Y - 1, green}} {
			got := color.RGBAModel.Convert(img.At(c.x, c.y)).(color.RGBA)
			if got != c.col {
				t.Errorf("img %d pixel (%d,%d) = %v, want %v", i, c.x, c.y, got, c.col)
			}
		}
		if g := wAt.FindStringSubmatch(tag); g == nil || g[1] != strconv.Itoa(w.dispW) {
			t.Errorf("img %d width attr %v, want %d", i, g, w.dispW)
		}
		if g := hAt.FindStringSubmatch(tag); g == nil || g[1] != strconv.Itoa(w.dispH) {
			t.Errorf("img %d height attr %v, want %d", i, g, w.dispH)
		}
		if px := strings.Contains(tag, `class="px"`); px != w.px {
			t.Errorf("img %d pixelated = %v, want %v", i, px, w.px)
		}
	}
	if !strings.Contains(out, "image-rendering: pixelated") {
		t.Error("no pixelated rendering rule in the CSS")
	}
	if n := strings.Count(out, `class="empty"`); n != 1 {
		t.Errorf("%d empty grid cells, want 1", n)
	}
}

// TestImageOffset: an image whose bounds do not start at (0, 0), such as a
// SubImage, keeps its pixels.
func TestImageOffset(t *testing.T) {
	src := asym(10, 6)
	src.SetRGBA(3, 2, red)
	src.SetRGBA(8, 4, blue)
	sub := src.SubImage(image.Rect(3, 2, 9, 5)) // 6×3, red top-left, blue bottom-right
	out := render(t, Page{Sections: []Section{{Heading: "x", Grid: &Grid{
		Columns: []string{"a"}, Rows: []GridRow{{Label: "r", Images: []image.Image{sub}}},
	}}}})
	tags := imgTag.FindAllString(out, -1)
	if len(tags) != 1 {
		t.Fatalf("%d <img> tags, want 1", len(tags))
	}
	img := decodeURI(t, srcAt.FindStringSubmatch(tags[0])[1])
	b := img.Bounds()
	if b.Dx() != 6 || b.Dy() != 3 {
		t.Fatalf("size %d×%d, want 6×3", b.Dx(), b.Dy())
	}
	if got := color.RGBAModel.Convert(img.At(b.Min.X, b.Min.Y)); got != red {
		t.Errorf("top-left %v, want red", got)
	}
	if got := color.RGBAModel.Convert(img.At(b.Max.X-1, b.Max.Y-1)); got != blue {
		t.Errorf("bottom-right %v, want blue", got)
	}
}

func TestEscaping(t *testing.T) {
	const evil = `<script>alert(1)</script>`
	const escaped = `&lt;script&gt;alert(1)&lt;/script&gt;`
	p := Page{
		Title: evil,
		Notes: []string{evil},
		Sections: []Section{{
			Heading: evil,
			Table: Table{
				Header:  []string{evil, "PSNR"},
				Rows:    [][]Cell{{{Text: evil}, {Text: "31.2", Best: true}}, {{Text: evil, Best: true}, {Text: "30.0"}}},
				Caption: evil,
			},
			Plots: []Plot{{Caption: evil, PNG: pngOf(t, 4, 4)}},
			Grid: &Grid{
				Columns: []string{evil},
				Rows:    []GridRow{{Label: evil, Images: []image.Image{asym(2, 2)}}, {Label: evil, Images: []image.Image{nil}}},
				Caption: evil,
			},
		}},
	}
	out := render(t, p)
	if i := strings.Index(strings.ToLower(out), "<script"); i >= 0 {
		t.Fatalf("raw <script> in output: …%s…", out[max(0, i-60):min(len(out), i+60)])
	}
	// Title (twice), note, TOC entry, heading, header, 2 cells, table
	// caption, plot caption (figcaption), grid column, 2 row labels, grid
	// caption: 14 escaped texts in element content.
	if n := strings.Count(out, escaped); n < 14 {
		t.Errorf("escaped text appears %d times, want at least 14", n)
	}
	if strings.Contains(out, "alert(1)</") {
		t.Error("closing tag of the payload not escaped")
	}
}

func TestTable(t *testing.T) {
	out := render(t, sample(t))
	for _, want := range []string{
		`<th scope="col">solver</th>`,
		`<th scope="col" class="num">NFE</th>`,
		`<th scope="col" class="num">PSNR</th>`,
		`<th scope="col" class="num">LPIPS</th>`, // "n/a" does not make it text
		`<td>eps</td>`,
		`<td class="num">20</td>`,
		`<td class="num"><strong>31.2 (0.4)</strong></td>`,
		`<td class="num"><strong>0.081</strong></td>`,
		`<td class="num">27.9 (0.6)</td>`,
		`<caption>mean (95% half-width)</caption>`,
		`.scroll { overflow-x: auto;`,
		`<div class="scroll">`,
		`nth-child(even)`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s", want)
		}
	}
	if n := strings.Count(out, "<strong>"); n != 2 {
		t.Errorf("%d bold cells, want 2", n)
	}
}

func TestNumericColumn(t *testing.T) {
	for _, c := range []struct {
		cells []string
		want  bool
	}{
		{[]string{"1", "2.5", "-3e-2"}, true},
		{[]string{"31.2 (0.4)", "n/a", ""}, true},
		{[]string{"**31.2**", "12%"}, true},
		{[]string{"eps", "1"}, false},
		{[]string{"n/a", ""}, false},
		{nil, false},
	} {
		rows := make([][]Cell, len(c.cells))
		for i, s := range c.cells {
			rows[i] = []Cell{{Text: s}}
		}
		if got := numericColumn(rows, 0); got != c.want {
			t.Errorf("numericColumn(%q) = %v, want %v", c.cells, got, c.want)
		}
	}
}

func TestErrors(t *testing.T) {
	good := func() Page { return sample(t) }
	for _, c := range []struct {
		name  string
		edit  func(*Page)
		wants []string // substrings of the error
	}{
		{"short grid row", func(p *Page) {
			p.Sections[0].Grid.Rows[1].Images = p.Sections[0].Grid.Rows[1].Images[:2]
		}, []string{`section 0 ("thumbnails, sr4")`, `grid row 1 ("img 1")`, "2 images for 3 columns"}},
		{"long grid row", func(p *Page) {
			p.Sections[0].Grid.Rows[0].Images = append(p.Sections[0].Grid.Rows[0].Images, nil)
		}, []string{`grid row 0 ("img 0")`, "4 images for 3 columns"}},
		{"plot not PNG", func(p *Page) {
			p.Sections[0].Plots[1].PNG = []byte("GIF89a not a png")
		}, []string{`plot 1 ("seconds vs NFE")`, "not a PNG"}},
		{"plot empty", func(p *Page) {
			p.Sections[0].Plots[0].PNG = nil
		}, []string{`plot 0 ("PSNR vs NFE")`, "no PNG bytes"}},
		{"plot truncated", func(p *Page) {
			p.Sections[0].Plots[0].PNG = p.Sections[0].Plots[0].PNG[:40]
		}, []string{`plot 0 ("PSNR vs NFE")`, "not a valid PNG"}},
		{"short table row", func(p *Page) {
			p.Sections[0].Table.Rows[1] = p.Sections[0].Table.Rows[1][:3]
		}, []string{`section 0 ("thumbnails, sr4")`, "table row 1", "3 cells for 4 columns"}},
		{"rows without header", func(p *Page) {
			p.Sections[1].Table.Rows = [][]Cell{{{Text: "x"}}}
		}, []string{`section 1 ("gmm, inpaint")`, "table row 0", "1 cells for 0 columns"}},
		{"empty image", func(p *Page) {
			p.Sections[0].Grid.Rows[0].Images[2] = image.NewRGBA(image.Rect(0, 0, 0, 5))
		}, []string{`grid row 0 ("img 0"), column 2 ("eps NFE 20")`, "empty"}},
		{"negative size", func(p *Page) {
			p.Sections[0].Grid.Size = -1
		}, []string{"negative display size"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := good()
			c.edit(&p)
			var b bytes.Buffer
			err := Write(&b, p)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if b.Len() != 0 {
				t.Errorf("%d bytes written despite the error", b.Len())
			}
		})
	}
}

// TestNilImages: a nil image, typed or not, is an empty cell, not a panic.
func TestNilImages(t *testing.T) {
	var typed *image.RGBA
	out := render(t, Page{Sections: []Section{{Heading: "x", Grid: &Grid{
		Columns: []string{"a", "b", "c"},
		Rows:    []GridRow{{Label: "r", Images: []image.Image{nil, typed, asym(4, 4)}}},
	}}}})
	if n := len(imgTag.FindAllString(out, -1)); n != 1 {
		t.Errorf("%d <img> tags, want 1", n)
	}
	if n := strings.Count(out, `class="empty"`); n != 2 {
		t.Errorf("%d empty cells, want 2", n)
	}
}

func TestAnchors(t *testing.T) {
	p := Page{Sections: []Section{
		{Heading: "thumbnails, sr4"},
		{Heading: "Thumbnails — SR4"}, // same slug
		{Heading: "thumbnails sr4"},   // same slug again
		{Heading: "thumbnails-sr4-2"}, // the slug the second one would take
		{Heading: "contents"},         // the id of the table of contents
		{Heading: ""},
		{Heading: "4× box"},
		{Heading: `"><b>x`},
	}}
	out := render(t, p)
	ids := regexp.MustCompile(`<section id="([^"]*)">`).FindAllStringSubmatch(out, -1)
	if len(ids) != len(p.Sections) {
		t.Fatalf("%d sections, want %d", len(ids), len(p.Sections))
	}
	want := []string{"thumbnails-sr4", "thumbnails-sr4-2", "thumbnails-sr4-3", "thumbnails-sr4-2-2", "contents-2", "section-6", "s-4-box", "b-x"}
	all := regexp.MustCompile(`\bid="([^"]*)"`).FindAllStringSubmatch(out, -1)
	seen := map[string]bool{}
	for _, m := range all {
		if seen[m[1]] {
			t.Errorf("id %q used twice", m[1])
		}
		seen[m[1]] = true
	}
	safe := regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	for i, m := range ids {
		if m[1] != want[i] {
			t.Errorf("section %d id %q, want %q", i, m[1], want[i])
		}
		if !safe.MatchString(m[1]) {
			t.Errorf("section %d id %q has unsafe characters", i, m[1])
		}
		// The table of contents links to it.
		if !strings.Contains(out, `<li><a href="#`+m[1]+`">`) {
			t.Errorf("no contents link to #%s", m[1])
		}
	}
}

func TestSlug(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"thumbnails, sr4", "thumbnails-sr4"},
		{"  GMM / Inpaint (box)  ", "gmm-inpaint-box"},
		{"ffhq, sr×4", "ffhq-sr-4"},
		{"123", "s-123"},
		{"日本", "s"},
	} {
		if got := slug(c.in); got != c.want {
			t.Errorf("slug(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestSelfContained(t *testing.T) {
	out := render(t, sample(t))
	// Every src and href is a data: URI or an in-page anchor; no script,
	// no external stylesheet.
	for _, m := range regexp.MustCompile(`\b(?:src|href)="([^"]*)"`).FindAllStringSubmatch(out, -1) {
		if !strings.HasPrefix(m[1], "data:image/png;base64,") && !strings.HasPrefix(m[1], "#") {
			t.Errorf("reference to outside the page: %.60q", m[1])
		}
	}
	for _, bad := range []string{"<script", "<link", "@import", "url("} {
		if strings.Contains(out, bad) {
			t.Errorf("output contains %q", bad)
		}
	}
	if !strings.HasPrefix(out, "<!DOCTYPE html>") || !strings.HasSuffix(out, "</html>\n") {
		t.Error("not a complete HTML document")
	}
	if !strings.Contains(out, "<title>ipbench: EPS vs baselines</title>") {
		t.Error("title missing")
	}
	if !strings.Contains(out, "<li>config sha256 0123abcd</li>") {
		t.Error("provenance note missing")
	}
}
