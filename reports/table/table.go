// Package table renders ipbench's result tables, for a terminal or as
// Markdown, through github.com/olekukonko/tablewriter. Header cells are
// printed as given (tablewriter's automatic header formatting is off, so
// "SW₂" stays "SW₂").
package table

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// Format is how a table is drawn.
type Format int

const (
	Markdown Format = iota // GitHub-flavoured Markdown
	Terminal               // box drawing for a terminal
)

// Table is a header and rows of text cells.
type Table struct {
	Header []string
	Rows   [][]string
}

// New returns an empty table with the given header.
func New(header ...string) *Table { return &Table{Header: header} }

// Append adds a row; it must have as many cells as the header.
func (t *Table) Append(cells ...string) {
	t.Rows = append(t.Rows, cells)
}

// Render writes the table to w.
func (t *Table) Render(w io.Writer, f Format) error {
	for i, r := range t.Rows {
		if len(r) != len(t.Header) {
			return fmt.Errorf("table: row %d has %d cells for %d columns", i, len(r), len(t.Header))
		}
	}
	// Numbers right, text left: a column is numeric when every cell of it
	// starts like a number (so "0.98 (0.01)" counts).
	align := make([]tw.Align, len(t.Header))
	for j := range align {
		align[j] = tw.AlignRight
		for _, r := range t.Rows {
			if !numeric(r[j]) {
				align[j] = tw.AlignLeft
				break
			}
		}
	}
	opts := []tablewriter.Option{
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignmentConfig(tw.CellAlignment{PerColumn: align}),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: align}),
	}
	if f == Markdown {
		opts = append(opts, tablewriter.WithRenderer(renderer.NewMarkdown()))
	}
	tbl := tablewriter.NewTable(w, opts...)
	tbl.Header(toAny(t.Header)...)
	for _, r := range t.Rows {
		if err := tbl.Append(toAny(r)...); err != nil {
			return fmt.Errorf("table: %w", err)
		}
	}
	if err := tbl.Render(); err != nil {
		return fmt.Errorf("table: %w", err)
	}
	return nil
}

func numeric(s string) bool {
	f := strings.Fields(s)
	if len(f) == 0 {
		return false
	}
	_, err := strconv.ParseFloat(strings.Trim(f[0], "*"), 64) // "**31.2**" is a marked number
	return err == nil || f[0] == "n/a"
}

func toAny(s []string) []any {
	a := make([]any, len(s))
	for i, v := range s {
		a[i] = v
	}
	return a
}
