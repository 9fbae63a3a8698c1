package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/ipbench/ipbench/harness/atomicfile"
)

// source is the content of one input record of Merge.
type source struct {
	dir        string
	hash, text string
	rows       []Row
	runs       []RunInfo
}

// readSource reads the record in dir in one read transaction.
func readSource(dir string) (*source, error) {
	s, err := openExisting(dir)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	tx, err := s.db.BeginTx(context.Background(), &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.path, err)
	}
	defer tx.Rollback()
	src := &source{dir: dir, hash: s.configHash, text: s.configText}
	if src.runs, err = readRuns(tx); err != nil {
		return nil, fmt.Errorf("reading the runs of %s: %w", s.path, err)
	}
	if src.rows, err = readRows(tx); err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.path, err)
	}
	return src, nil
}

// sameResult reports whether two ok rows hold the same result: the same
// seed and the same metric values (NaN equal to NaN).
func sameResult(a, b *Row) bool {
	if a.Seed != b.Seed || len(a.Metrics) != len(b.Metrics) {
		return false
	}
	for name, x := range a.Metrics {
		y, ok := b.Metrics[name]
		if !ok || (x != y && !(math.IsNaN(x) && math.IsNaN(y))) {
			return false
		}
	}
	return true
}

// runSignature identifies a run by everything but its id, so that a run
// merged twice is stored once.
func runSignature(r RunInfo) (string, error) {
	r.ID = 0
	r.Started = r.Started.UTC()
	r.Finished = r.Finished.UTC()
	b, err := json.Marshal(r)
	return string(b), err
}

// Merge joins the records in inDirs, typically the shards of one plan, into
// the record in outDir, creating it if it does not exist.
//
// Every input must hold a record of the same config as the others and as
// the record in outDir, if there is one; otherwise Merge returns an error
// wrapping ErrConfigMismatch. Rows are upserted by key: an ok row wins over a
// failed one, a later failed row (in the order outDir, inDirs...) replaces an
// earlier failed one, and two ok rows for the same key must hold the same
// seed and metric values, or Merge fails naming the key; of two such rows,
// the earlier is kept. The runs of the inputs are copied, with new ids, and
// the rows that refer to them follow; a run already in outDir (equal in
// every field but its id) is not copied again, so merging the same input
// twice changes nothing. The output files of the rows taken from an input
// are copied from the input folder into outDir at the same relative paths,
// each atomically.
//
// Merge checks everything before it writes: on an error the record in
// outDir is unchanged, though some output files may have been copied.
// outDir must not be one of the inputs.
func Merge(outDir string, inDirs ...string) error {
	if len(inDirs) == 0 {
		return errors.New("merge: no input folders")
	}
	if outDir == "" {
		return errors.New("merge: empty output folder name")
	}
	outInfo, outErr := os.Stat(outDir)
	absOut, err := filepath.Abs(outDir)
	if err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	for _, in := range inDirs {
		fi, err := os.Stat(in)
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("merge: input folder %s does not exist", in)
		}
		if err != nil {
			return fmt.Errorf("merge: input: %w", err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("merge: input %s is not a folder", in)
		}
		absIn, err := filepath.Abs(in)
		if err != nil {
			return fmt.Errorf("merge: %w", err)
		}
		if absIn == absOut || (outErr == nil && os.SameFile(outInfo, fi)) {
			return fmt.Errorf("merge: output folder %s is one of the inputs (%s); merge into a new folder", outDir, in)
		}
	}

	srcs := make([]*source, len(inDirs))
	for i, in := range inDirs {
		src, err := readSource(in)
		if err != nil {
			return fmt.Errorf("merge: %w", err)
		}
		if i > 0 && src.hash != srcs[0].hash {
			return mismatch("merge: input %s holds a record of a different config (hash %s, while input %s has hash %s)",
				in, src.hash, srcs[0].dir, srcs[0].hash)
		}
		for j := range src.rows {
			if err := checkRow(&src.rows[j]); err != nil {
				return fmt.Errorf("merge: input %s: row %v: %v", in, src.rows[j].Key, err)
			}
		}
		srcs[i] = src
	}

	hash := srcs[0].hash
	if _, err := os.Stat(filepath.Join(outDir, FileName)); err == nil {
		out, err := openExisting(outDir)
		if err != nil {
			return fmt.Errorf("merge: %w", err)
		}
		outHash := out.ConfigHash()
		out.Close()
		if outHash != hash {
			return mismatch("merge: output folder %s holds a record of a different config (hash %s, while the inputs have hash %s)",
				outDir, outHash, hash)
		}
	}
	out, err := Open(outDir, hash, srcs[0].text)
	if err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	defer out.Close()
	if err := out.merge(srcs); err != nil {
		return fmt.Errorf("merge into %s: %w", outDir, err)
	}
	return out.Close()
}

// merge writes srcs into s in one transaction.
func (s *Store) merge(srcs []*source) error {
	tx, err := s.db.BeginTx(context.Background(), nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	existing, err := readRows(tx)
	if err != nil {
		return err
	}
	outRuns, err := readRuns(tx)
	if err != nil {
		return err
	}

	// Choose the row that wins for each key.
	type candidate struct {
		row Row
		src int // index into srcs, or -1 for the output record
	}
	name := func(src int) string {
		if src < 0 {
			return "output folder " + s.dir
		}
		return "input " + srcs[src].dir
	}
	win := make(map[Key]candidate, len(existing))
	for _, r := range existing {
		win[r.Key] = candidate{r, -1}
	}
	for i, src := range srcs {
		for _, r := range src.rows {
			cur, ok := win[r.Key]
			switch {
			case !ok:
			case cur.row.Status == StatusOK && r.Status == StatusOK:
				if !sameResult(&cur.row, &r) {
					return fmt.Errorf("two different ok results for %v: %s has seed %q and metrics %v, %s has seed %q and metrics %v",
						r.Key, name(cur.src), cur.row.Seed, cur.row.Metrics, name(i), r.Seed, r.Metrics)
				}
				continue
			case cur.row.Status == StatusOK:
				continue
			}
			win[r.Key] = candidate{r, i}
		}
	}

	// Every output file belongs to one sample.
	owner := make(map[string]Key)
	for k, c := range win {
		if c.row.Output == "" {
			continue
		}
		p := filepath.Clean(c.row.Output)
		if o, ok := owner[p]; ok {
			a, b := o, k
			if b.less(a) {
				a, b = b, a
			}
			return fmt.Errorf("%v and %v have the same output file %s", a, b, p)
		}
		owner[p] = k
	}

	// Copy the runs, once each.
	sigs := make(map[string]int64, len(outRuns))
	for _, r := range outRuns {
		sig, err := runSignature(r)
		if err != nil {
			return err
		}
		sigs[sig] = r.ID
	}
	runMap := make([]map[int64]int64, len(srcs))
	for i, src := range srcs {
		runMap[i] = make(map[int64]int64, len(src.runs))
		for _, r := range src.runs {
			sig, err := runSignature(r)
			if err != nil {
				return err
			}
			id, ok := sigs[sig]
			if !ok {
				if id, err = insertRun(tx, r); err != nil {
					return fmt.Errorf("copying run %d of input %s: %w", r.ID, src.dir, err)
				}
				sigs[sig] = id
			}
			runMap[i][r.ID] = id
		}
	}

	// The rows taken from the inputs, with their runs renumbered.
	var rows []Row
	var from []int
	keys := make([]Key, 0, len(win))
	for k, c := range win {
		if c.src >= 0 {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].less(keys[j]) })
	for _, k := range keys {
		c := win[k]
		r := c.row
		if r.Run != 0 {
			id, ok := runMap[c.src][r.Run]
			if !ok {
				return fmt.Errorf("input %s: row %v refers to run %d, which is not in its record", srcs[c.src].dir, k, r.Run)
			}
			r.Run = id
		}
		rows = append(rows, r)
		from = append(from, c.src)
	}

	// Copy the output files before the rows that name them are committed.
	for i, r := range rows {
		if r.Output == "" {
			continue
		}
		src := filepath.Join(srcs[from[i]].dir, r.Output)
		data, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("output file of %v: %w", r.Key, err)
		}
		dst := filepath.Join(s.dir, r.Output)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("output file of %v: %w", r.Key, err)
		}
		if err := atomicfile.Write(dst, data); err != nil {
			return fmt.Errorf("output file of %v: %w", r.Key, err)
		}
	}

	if err := putRows(tx, rows); err != nil {
		return err
	}
	return tx.Commit()
}
