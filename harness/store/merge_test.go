package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// planRows returns the ok rows of a small plan, each with an output file.
func planRows() []Row {
	var rows []Row
	for _, solver := range []string{"ddrm", "dps"} {
		for img := 0; img < 4; img++ {
			for sample := 0; sample < 2; sample++ {
				r := row(solver, fmt.Sprint(img), 10, sample, StatusOK)
				r.Metrics["psnr"] += float64(img)
				r.Output = fmt.Sprintf("images/%s/%d_%d.png", solver, img, sample)
				rows = append(rows, r)
			}
		}
	}
	return rows
}

// fileData is the content of the output file of r.
func fileData(r Row) []byte { return []byte("PNG of " + r.Key.String()) }

// writeShard writes rows, in one run on host, into the record in dir with
// config hash, and their output files next to it.
func writeShard(t *testing.T, dir, hash, host string, rows []Row) {
	t.Helper()
	s, err := Open(dir, hash, "config of "+hash)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	run, err := s.StartRun(Provenance{Host: host, Shard: host})
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		rows[i].Run = run
		if rows[i].Output == "" {
			continue
		}
		p := filepath.Join(dir, rows[i].Output)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, fileData(rows[i]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(rows); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(run); err != nil {
		t.Fatal(err)
	}
}

// readAll returns the rows, with run ids zeroed, and the runs of the record
// in dir.
func readAll(t *testing.T, dir string) ([]Row, []RunInfo) {
	t.Helper()
	s, err := openExisting(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.Rows()
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		rows[i].Run = 0
	}
	runs, err := s.Runs()
	if err != nil {
		t.Fatal(err)
	}
	return rows, runs
}

func TestMerge(t *testing.T) {
	base := t.TempDir()
	all := planRows()
	var a, b []Row
	for i, r := range all {
		if i%2 == 0 {
			a = append(a, r)
		} else {
			b = append(b, r)
		}
	}
	// Shard a failed on a sample that shard b (by some overlap) did.
	failed := b[0]
	failed.Status, failed.Error, failed.Metrics, failed.Output = StatusFailed, "out of memory", nil, ""
	a = append(a, failed)
	// A failure nobody retried stays a failure.
	lost := row("dps", "9", 10, 0, StatusFailed)
	b = append(b, lost)
	all = append(all, lost)

	dirA, dirB := filepath.Join(base, "shard-1"), filepath.Join(base, "shard-2")
	writeShard(t, dirA, "h", "a", a)
	writeShard(t, dirB, "h", "b", b)

	// The same rows written into one record.
	one := filepath.Join(base, "one")
	writeShard(t, one, "h", "one", append([]Row(nil), all...))
	want, _ := readAll(t, one)

	out := filepath.Join(base, "merged")
	if err := Merge(out, dirA, dirB); err != nil {
		t.Fatal(err)
	}
	got, runs := readAll(t, out)
	checkRows(t, got, want)
	if len(runs) != 2 || runs[0].Host != "a" || runs[1].Host != "b" || runs[0].Finished.IsZero() {
		t.Errorf("runs %+v, want the finished runs of a and b", runs)
	}
	for _, r := range all {
		if r.Output == "" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(out, r.Output))
		if err != nil {
			t.Errorf("output file of %v: %v", r.Key, err)
		} else if string(data) != string(fileData(r)) {
			t.Errorf("output file of %v holds %q, want %q", r.Key, data, fileData(r))
		}
	}

	// The rows point at the copied runs.
	s := mustOpen(t, out, "h")
	rows, err := s.Rows()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		wantRun := runs[1].ID
		if r.Key == a[0].Key {
			wantRun = runs[0].ID
		}
		if r.Key == a[0].Key || r.Key == b[0].Key {
			if r.Run != wantRun {
				t.Errorf("row %v has run %d, want %d", r.Key, r.Run, wantRun)
			}
		}
	}
	s.Close()

	// Merging again, or in the other order, changes nothing.
	if err := Merge(out, dirB, dirA); err != nil {
		t.Fatal(err)
	}
	got, runs = readAll(t, out)
	checkRows(t, got, want)
	if len(runs) != 2 {
		t.Errorf("%d runs after merging the same shards twice, want 2", len(runs))
	}
	out2 := filepath.Join(base, "merged-2")
	if err := Merge(out2, dirB, dirA); err != nil {
		t.Fatal(err)
	}
	got, _ = readAll(t, out2)
	checkRows(t, got, want)
}

func TestMergeRefuses(t *testing.T) {
	tests := []struct {
		name string
		// setup makes the inputs and the output folder in base and
		// returns their paths.
		setup    func(t *testing.T, base string) (out string, in []string)
		want     []string // in the error, with base for "BASE"
		mismatch bool     // the error wraps ErrConfigMismatch
	}{
		{
			name: "different configs",
			setup: func(t *testing.T, base string) (string, []string) {
				writeShard(t, filepath.Join(base, "s1"), "h1", "a", planRows()[:2])
				writeShard(t, filepath.Join(base, "s2"), "h2", "b", planRows()[2:4])
				return filepath.Join(base, "out"), []string{filepath.Join(base, "s1"), filepath.Join(base, "s2")}
			},
			want:     []string{"input BASE/s2 holds a record of a different config", "h1", "h2"},
			mismatch: true,
		},
		{
			name: "output of a different config",
			setup: func(t *testing.T, base string) (string, []string) {
				writeShard(t, filepath.Join(base, "s1"), "h1", "a", planRows()[:2])
				writeShard(t, filepath.Join(base, "out"), "h0", "x", planRows()[4:5])
				return filepath.Join(base, "out"), []string{filepath.Join(base, "s1")}
			},
			want:     []string{"merge: output folder BASE/out holds a record of a different config (hash h0, while the inputs have hash h1)"},
			mismatch: true,
		},
		{
			name: "conflicting ok rows",
			setup: func(t *testing.T, base string) (string, []string) {
				r := planRows()[:3]
				writeShard(t, filepath.Join(base, "s1"), "h", "a", r[:2])
				r[1].Metrics = map[string]float64{"psnr": 99}
				writeShard(t, filepath.Join(base, "s2"), "h", "b", r[1:])
				return filepath.Join(base, "out"), []string{filepath.Join(base, "s1"), filepath.Join(base, "s2")}
			},
			want: []string{"two different ok results for " + planRows()[1].Key.String(), "BASE/s1", "BASE/s2"},
		},
		{
			name: "conflicting seeds",
			setup: func(t *testing.T, base string) (string, []string) {
				r := planRows()[:1]
				writeShard(t, filepath.Join(base, "s1"), "h", "a", r)
				r[0].Seed = "ff"
				writeShard(t, filepath.Join(base, "s2"), "h", "b", r)
				return filepath.Join(base, "out"), []string{filepath.Join(base, "s1"), filepath.Join(base, "s2")}
			},
			want: []string{"two different ok results for " + planRows()[0].Key.String(), `seed "ff"`},
		},
		{
			name: "into an input",
			setup: func(t *testing.T, base string) (string, []string) {
				writeShard(t, filepath.Join(base, "s1"), "h", "a", planRows()[:2])
				writeShard(t, filepath.Join(base, "s2"), "h", "b", planRows()[2:4])
				return filepath.Join(base, "s2", "."), []string{filepath.Join(base, "s1"), filepath.Join(base, "s2")}
			},
			want: []string{"is one of the inputs"},
		},
		{
			name: "missing input",
			setup: func(t *testing.T, base string) (string, []string) {
				return filepath.Join(base, "out"), []string{filepath.Join(base, "nothing")}
			},
			want: []string{"BASE/nothing"},
		},
		{
			name: "input without a record",
			setup: func(t *testing.T, base string) (string, []string) {
				if err := os.Mkdir(filepath.Join(base, "empty"), 0o755); err != nil {
					t.Fatal(err)
				}
				return filepath.Join(base, "out"), []string{filepath.Join(base, "empty")}
			},
			want: []string{"BASE/empty holds no record"},
		},
		{
			name: "no inputs",
			setup: func(t *testing.T, base string) (string, []string) {
				return filepath.Join(base, "out"), nil
			},
			want: []string{"no input folders"},
		},
		{
			name: "missing output file",
			setup: func(t *testing.T, base string) (string, []string) {
				r := planRows()[:2]
				writeShard(t, filepath.Join(base, "s1"), "h", "a", r)
				if err := os.Remove(filepath.Join(base, "s1", r[1].Output)); err != nil {
					t.Fatal(err)
				}
				return filepath.Join(base, "out"), []string{filepath.Join(base, "s1")}
			},
			want: []string{"output file of " + planRows()[1].Key.String(), "no such file"},
		},
		{
			name: "shared output file",
			setup: func(t *testing.T, base string) (string, []string) {
				r := planRows()[:2]
				r[1].Output = r[0].Output
				writeShard(t, filepath.Join(base, "s1"), "h", "a", r)
				return filepath.Join(base, "out"), []string{filepath.Join(base, "s1")}
			},
			want: []string{"have the same output file " + planRows()[0].Output},
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			base := t.TempDir()
			out, in := test.setup(t, base)
			var before []Row
			if _, err := os.Stat(filepath.Join(out, FileName)); err == nil {
				before, _ = readAll(t, out)
			}
			err := Merge(out, in...)
			if err == nil {
				t.Fatalf("Merge succeeded, want an error saying %q", test.want)
			}
			for _, w := range test.want {
				w = strings.ReplaceAll(w, "BASE", base)
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if got := errors.Is(err, ErrConfigMismatch); got != test.mismatch {
				t.Errorf("errors.Is(err, ErrConfigMismatch) = %t, want %t", got, test.mismatch)
			}
			// The output record is as it was.
			if _, err := os.Stat(filepath.Join(out, FileName)); err == nil {
				after, _ := readAll(t, out)
				checkRows(t, after, before)
			}
		})
	}
}
