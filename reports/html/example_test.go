package html_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ipbench/ipbench/reports/html"
)

func Example() {
	// A 64×64 thumbnail, shown at 128×128 CSS pixels.
	thumb := image.NewGray(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			thumb.SetGray(x, y, color.Gray{Y: uint8(4 * x)})
		}
	}
	p := html.Page{
		Title: "ipbench report",
		Notes: []string{"config sha256 0123abcd"},
		Sections: []html.Section{{
			Heading: "thumbnails, sr4",
			Table: html.Table{
				Header: []string{"solver", "NFE", "PSNR"},
				Rows: [][]html.Cell{
					{{Text: "eps"}, {Text: "20"}, {Text: "31.2", Best: true}},
					{{Text: "<dps>"}, {Text: "1000"}, {Text: "27.9"}},
				},
			},
			Grid: &html.Grid{
				Columns: []string{"truth", "measurement"},
				Rows:    []html.GridRow{{Label: "img 0", Images: []image.Image{thumb, nil}}},
			},
		}},
	}
	var b bytes.Buffer
	if err := html.Write(&b, p); err != nil {
		fmt.Println(err)
		return
	}
	path := filepath.Join(os.TempDir(), "ipbench-example.html")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		fmt.Println(err)
		return
	}
	defer os.Remove(path)

	out := b.String()
	fmt.Println(regexp.MustCompile(`<li><a href="#[^"]*">[^<]*</a></li>`).FindString(out))
	fmt.Println(regexp.MustCompile(`<td[^>]*><strong>[^<]*</strong></td>`).FindString(out))
	fmt.Println(strings.Contains(out, "&lt;dps&gt;"), strings.Contains(out, "<dps>"))
	fmt.Println(strings.Count(out, "<img "), "image")
	fmt.Println(regexp.MustCompile(`width="\d+" height="\d+"`).FindString(out))
	// Output:
	// <li><a href="#thumbnails-sr4">thumbnails, sr4</a></li>
	// <td class="num"><strong>31.2</strong></td>
	// true false
	// 1 image
	// width="128" height="128"
}
