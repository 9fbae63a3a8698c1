package store

import (
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sameFloat reports whether a and b are equal, NaN equal to NaN.
func sameFloat(a, b float64) bool {
	return a == b || (math.IsNaN(a) && math.IsNaN(b))
}

// sameRow reports whether a and b are equal, NaN equal to NaN.
func sameRow(a, b Row) bool {
	if a.Key != b.Key || a.SolverVersion != b.SolverVersion || a.PluginSHA256 != b.PluginSHA256 ||
		a.Seed != b.Seed || a.Status != b.Status || a.Error != b.Error || a.Output != b.Output || a.Run != b.Run ||
		!sameFloat(a.Seconds, b.Seconds) || !sameFloat(a.NFECounted, b.NFECounted) || !sameFloat(a.VJPCounted, b.VJPCounted) ||
		len(a.Metrics) != len(b.Metrics) {
		return false
	}
	for k, v := range a.Metrics {
		w, ok := b.Metrics[k]
		if !ok || !sameFloat(v, w) {
			return false
		}
	}
	return true
}

// checkRows fails t unless got and want hold the same rows in the same order.
func checkRows(t *testing.T, got, want []Row) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d:\ngot  %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range got {
		if !sameRow(got[i], want[i]) {
			t.Errorf("row %d:\ngot  %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func mustOpen(t *testing.T, dir, hash string) *Store {
	t.Helper()
	s, err := Open(dir, hash, "config of "+hash)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func row(solver, image string, nfe, sample int, status string) Row {
	r := Row{
		Key:           Key{Solver: solver, Task: "deblur", Dataset: "ffhq", Image: image, NFE: nfe, Sample: sample},
		SolverVersion: "1.0",
		PluginSHA256:  "abc123",
		Seed:          fmt.Sprintf("%016x", nfe*1000+sample),
		Status:        status,
		Seconds:       0.25,
		NFECounted:    float64(nfe),
		VJPCounted:    float64(nfe) / 2,
	}
	if status == StatusOK {
		r.Metrics = map[string]float64{"psnr": 20 + float64(sample), "ssim": 0.5}
	} else {
		r.Error = "plugin crashed"
	}
	return r
}

func TestOpen(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "new", "results")
	s := mustOpen(t, dir, "h1")
	if got := s.ConfigHash(); got != "h1" {
		t.Errorf("ConfigHash() = %q, want h1", got)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o755&^umask(t) {
		t.Errorf("output folder: %v, %v; want mode %v", fi, err, os.FileMode(0o755&^umask(t)))
	}
	if err := s.Put([]Row{row("dps", "0", 10, 0, StatusOK)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Same config: the rows are there.
	s = mustOpen(t, dir, "h1")
	rows, err := s.Rows()
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, rows, []Row{row("dps", "0", 10, 0, StatusOK)})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Another config: refused, naming both hashes.
	_, err = Open(dir, "h2", "other")
	if !errors.Is(err, ErrConfigMismatch) {
		t.Fatalf("Open with another config: %v, want ErrConfigMismatch", err)
	}
	want := fmt.Sprintf("output folder %s holds a record of a different config (hash h1, this config h2)", dir)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

func umask(t *testing.T) os.FileMode {
	t.Helper()
	d := filepath.Join(t.TempDir(), "probe")
	if err := os.Mkdir(d, 0o777); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(d)
	if err != nil {
		t.Fatal(err)
	}
	return 0o777 &^ fi.Mode().Perm()
}

func TestOpenOddPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a?b#c %41 d")
	s := mustOpen(t, dir, "h")
	s.Close()
	if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
		t.Errorf("record not at the path asked for: %v", err)
	}
}

func TestOpenRefuses(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) // makes dir/record.sqlite
		hash  string
		want  string
	}{
		{
			name:  "empty hash",
			setup: func(t *testing.T, dir string) {},
			hash:  "",
			want:  "empty config hash",
		},
		{
			name: "newer schema",
			setup: func(t *testing.T, dir string) {
				s := mustOpen(t, dir, "h")
				if _, err := s.db.Exec("PRAGMA user_version = 99"); err != nil {
					t.Fatal(err)
				}
				s.Close()
			},
			hash: "h",
			want: "schema version 99, newer than this ipbench understands (1)",
		},
		{
			name: "foreign database",
			setup: func(t *testing.T, dir string) {
				db, err := sql.Open("sqlite", filepath.Join(dir, FileName))
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if _, err := db.Exec("CREATE TABLE t (x)"); err != nil {
					t.Fatal(err)
				}
			},
			hash: "h",
			want: "not an ipbench record",
		},
		{
			name: "not a database",
			setup: func(t *testing.T, dir string) {
				if err := os.WriteFile(filepath.Join(dir, FileName), []byte(strings.Repeat("not sqlite\n", 100)), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			hash: "h",
			want: "not a database",
		},
		{
			name: "folder is a file",
			setup: func(t *testing.T, dir string) {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(dir, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			hash: "h",
			want: "creating the output folder",
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			dir := t.TempDir()
			test.setup(t, dir)
			s, err := Open(dir, test.hash, "")
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded, want an error saying %q", test.want)
			}
			if !strings.Contains(err.Error(), test.want) {
				t.Errorf("error %q does not say %q", err, test.want)
			}
		})
	}
}

func TestPutRows(t *testing.T) {
	s := mustOpen(t, t.TempDir(), "h")
	run, err := s.StartRun(Provenance{Host: "here"})
	if err != nil {
		t.Fatal(err)
	}
	odd := row("ddrm", "img/7", 100, 3, StatusOK)
	odd.Metrics = map[string]float64{"psnr": math.Inf(1), "lpips": math.NaN(), "ssim": 1}
	odd.Seconds = math.NaN()
	odd.Output = "images/ddrm/7_3.png"
	odd.Run = run
	noMetrics := row("ddrm", "img/7", 100, 4, StatusOK)
	noMetrics.Metrics = map[string]float64{}

	batch := []Row{
		row("dps", "b", 10, 0, StatusOK),
		row("dps", "a", 10, 1, StatusFailed),
		row("dps", "a", 10, 0, StatusOK),
		row("dps", "a", 2, 0, StatusOK),
		odd,
		noMetrics,
	}
	if err := s.Put(batch); err != nil {
		t.Fatal(err)
	}
	noMetrics.Metrics = nil // read back as nil
	want := []Row{odd, noMetrics, batch[3], batch[2], batch[1], batch[0]}
	rows, err := s.Rows()
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, rows, want)

	done, err := s.Done()
	if err != nil {
		t.Fatal(err)
	}
	wantDone := map[Key]bool{odd.Key: true, noMetrics.Key: true, batch[0].Key: true, batch[2].Key: true, batch[3].Key: true}
	if len(done) != len(wantDone) {
		t.Errorf("Done() = %v, want %v", done, wantDone)
	}
	for k := range wantDone {
		if !done[k] {
			t.Errorf("Done() lacks %v", k)
		}
	}

	// The failure is retried and succeeds; a row with fewer metrics replaces
	// one with more.
	retried := row("dps", "a", 10, 1, StatusOK)
	fewer := odd
	fewer.Metrics = map[string]float64{"psnr": 30}
	if err := s.Put([]Row{retried, fewer}); err != nil {
		t.Fatal(err)
	}
	want = []Row{fewer, noMetrics, batch[3], batch[2], retried, batch[0]}
	rows, err = s.Rows()
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, rows, want)
	if done, _ := s.Done(); !done[retried.Key] || len(done) != 6 {
		t.Errorf("Done() = %v after the retry, want all 6 keys", done)
	}

	// Within one batch the later row wins.
	first, second := row("x", "1", 1, 0, StatusFailed), row("x", "1", 1, 0, StatusOK)
	if err := s.Put([]Row{first, second}); err != nil {
		t.Fatal(err)
	}
	rows, _ = s.Rows()
	if got := rows[len(rows)-1]; !sameRow(got, second) {
		t.Errorf("after a batch with one key twice: %+v, want %+v", got, second)
	}
	var n int
	if err := s.db.QueryRow("SELECT count(*) FROM metrics WHERE sample NOT IN (SELECT id FROM samples)").Scan(&n); err != nil || n != 0 {
		t.Errorf("%d orphaned metric values (%v)", n, err)
	}
}

func TestPutRefuses(t *testing.T) {
	good := row("dps", "0", 10, 0, StatusOK)
	tests := []struct {
		name string
		bad  func(r *Row)
		want string
	}{
		{"bad status", func(r *Row) { r.Status = "done" }, `status "done" is neither "ok" nor "failed"`},
		{"empty status", func(r *Row) { r.Status = "" }, `status "" is neither`},
		{"empty solver", func(r *Row) { r.Solver = "" }, "empty solver"},
		{"empty task and image", func(r *Row) { r.Task, r.Image = "", "" }, "empty task, image"},
		{"empty dataset", func(r *Row) { r.Dataset = "" }, "empty dataset"},
		{"negative NFE", func(r *Row) { r.NFE = -1 }, "NFE -1 is less than 1"},
		{"zero NFE", func(r *Row) { r.NFE = 0 }, "NFE 0 is less than 1"},
		{"negative sample", func(r *Row) { r.Sample = -2 }, "negative sample index -2"},
		{"empty metric name", func(r *Row) { r.Metrics = map[string]float64{"": 1} }, "empty name"},
		{"absolute output", func(r *Row) { r.Output = "/etc/passwd" }, "not a relative path"},
		{"escaping output", func(r *Row) { r.Output = "../x.png" }, "not a relative path"},
		{"unknown run", func(r *Row) { r.Run = 42 }, "run 42 is not in the record"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			s := mustOpen(t, t.TempDir(), "h")
			bad := row("dps", "1", 10, 0, StatusOK)
			test.bad(&bad)
			err := s.Put([]Row{good, bad, row("dps", "2", 10, 0, StatusOK)})
			if err == nil {
				t.Fatalf("Put accepted a batch with a bad row; want an error saying %q", test.want)
			}
			if !strings.Contains(err.Error(), test.want) {
				t.Errorf("error %q does not say %q", err, test.want)
			}
			rows, err := s.Rows()
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 0 {
				t.Errorf("a refused batch stored %d rows", len(rows))
			}
		})
	}
}

func TestRuns(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, "h")
	p1 := Provenance{
		IpbenchVersion: "v0.3.0",
		Commit:         "0123abcd",
		GoVersion:      "go1.26.8",
		Host:           "node17",
		Shard:          "2/8",
		Checksums:      map[string]string{"model": "sha256:aa", "dataset": "sha256:bb", "plugin dps": "sha256:cc"},
		Started:        time.Date(2026, 3, 1, 12, 30, 15, 123456789, time.FixedZone("CET", 3600)),
	}
	id1, err := s.StartRun(p1)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	id2, err := s.StartRun(Provenance{Host: "node18"})
	if err != nil {
		t.Fatal(err)
	}
	if id1 == id2 || id1 == 0 || id2 == 0 {
		t.Fatalf("run ids %d and %d", id1, id2)
	}
	if err := s.FinishRun(id1); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(id2 + 10); err == nil || !strings.Contains(err.Error(), "no such run") {
		t.Errorf("FinishRun of a missing run: %v, want an error saying there is no such run", err)
	}
	s.Close()

	s = mustOpen(t, dir, "h")
	runs, err := s.Runs()
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2: %+v", len(runs), runs)
	}
	r := runs[0]
	if r.ID != id1 || r.IpbenchVersion != p1.IpbenchVersion || r.Commit != p1.Commit || r.GoVersion != p1.GoVersion ||
		r.Host != p1.Host || r.Shard != p1.Shard || !r.Started.Equal(p1.Started) || r.Finished.IsZero() {
		t.Errorf("run 1 = %+v, want %+v, finished", r, p1)
	}
	if len(r.Checksums) != len(p1.Checksums) {
		t.Errorf("checksums %v, want %v", r.Checksums, p1.Checksums)
	}
	for k, v := range p1.Checksums {
		if r.Checksums[k] != v {
			t.Errorf("checksum %s = %q, want %q", k, r.Checksums[k], v)
		}
	}
	r = runs[1]
	if r.ID != id2 || r.Host != "node18" || r.Checksums != nil || !r.Finished.IsZero() ||
		r.Started.Before(before.Add(-time.Second)) || r.Started.After(time.Now()) {
		t.Errorf("run 2 = %+v, want an unfinished run on node18 started now", r)
	}
}

func TestOpenConcurrently(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	errs := make(chan error)
	const n = 8
	for i := 0; i < n; i++ {
		go func() {
			s, err := Open(dir, "h", "config")
			if err == nil {
				err = s.Put([]Row{row("dps", fmt.Sprint(i), 10, 0, StatusOK)})
				if cerr := s.Close(); err == nil {
					err = cerr
				}
			}
			errs <- err
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	s := mustOpen(t, dir, "h")
	if rows, err := s.Rows(); err != nil || len(rows) != n {
		t.Errorf("%d rows (%v), want %d", len(rows), err, n)
	}
}
