package table_test

import (
	"os"

	"github.com/ipbench/ipbench/reports/table"
)

func Example() {
	t := table.New("solver", "NFE", "SW₂ to exact")
	t.Append("eps", "100", "0.106")
	t.Append("dps", "1000", "17.368")
	t.Render(os.Stdout, table.Markdown)
	// Output:
	// | solver |  NFE | SW₂ to exact |
	// |:-------|-----:|-------------:|
	// | eps    |  100 |        0.106 |
	// | dps    | 1000 |       17.368 |
}
