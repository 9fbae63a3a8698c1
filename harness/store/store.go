// Package store keeps the record of a benchmark: one SQLite file,
// DIR/record.sqlite, per results directory, with a row per sample of the
// plan, a row per run (invocation) with its provenance, and the effective
// configuration that every row was produced under.
//
// The record is written with SQLite's write-ahead log and synchronous=FULL:
// a batch stored by Put is durable when Put returns, and a process killed at
// any moment loses at most the batch it was writing, never part of one.
//
// A record has one writer at a time. SQLite serializes concurrent writers
// correctly, but two processes working through the same plan in the same
// folder would duplicate each other's work; shards of a plan each write
// their own folder and are joined afterwards by Merge. Any number of
// readers may use a record while it is written.
//
// Output images live next to the record, in files whose paths, relative to
// DIR, are stored in the rows.
//
// The record is plain SQL, readable with any SQLite client: table meta holds
// config_hash and config_text; runs a run per row (times as UTC text,
// checksums as a JSON object); samples a row per key, unique on (solver,
// task, dataset, image, nfe, sample); metrics a (sample, name, value) row per
// metric value, sample being samples.id. The schema version is PRAGMA
// user_version.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// FileName is the name of the record inside a results directory.
const FileName = "record.sqlite"

// SchemaVersion is the version of the record's schema that this package
// writes, stored as the database's PRAGMA user_version. Open refuses a record
// with a newer version.
const SchemaVersion = 1

// Status values of a Row.
const (
	StatusOK     = "ok"
	StatusFailed = "failed"
)

// ErrConfigMismatch is returned, wrapped, when a record holds rows of a
// configuration other than the one asked for.
var ErrConfigMismatch = errors.New("record of a different config")

// mismatchError is an error that says which configs differ and wraps
// ErrConfigMismatch.
type mismatchError struct{ msg string }

func (e *mismatchError) Error() string { return e.msg }
func (e *mismatchError) Unwrap() error { return ErrConfigMismatch }

// mismatch returns a *mismatchError with the message that format and args
// make.
func mismatch(format string, args ...any) error {
	return &mismatchError{fmt.Sprintf(format, args...)}
}

// Key identifies one sample of a benchmark plan.
type Key struct {
	Solver  string // solver name
	Task    string
	Dataset string
	Image   string // image id
	NFE     int
	Sample  int // sample index for this image
}

// String returns a description of k for messages.
func (k Key) String() string {
	return fmt.Sprintf("solver %q task %q dataset %q image %q NFE %d sample %d",
		k.Solver, k.Task, k.Dataset, k.Image, k.NFE, k.Sample)
}

// less reports whether k sorts before l, field by field in declaration
// order, strings by bytes.
func (k Key) less(l Key) bool {
	switch {
	case k.Solver != l.Solver:
		return k.Solver < l.Solver
	case k.Task != l.Task:
		return k.Task < l.Task
	case k.Dataset != l.Dataset:
		return k.Dataset < l.Dataset
	case k.Image != l.Image:
		return k.Image < l.Image
	case k.NFE != l.NFE:
		return k.NFE < l.NFE
	}
	return k.Sample < l.Sample
}

// Row is a sample's outcome.
//
// Floating-point fields and metric values may be NaN: SQLite stores NaN as
// NULL, and Rows reads NULL back as NaN. Infinities are stored as they are.
type Row struct {
	Key
	SolverVersion string
	PluginSHA256  string
	Seed          string  // hex of the per-sample seed
	Status        string  // StatusOK or StatusFailed
	Error         string  // when failed
	Seconds       float64 // wall time per sample (batch time / batch size)
	NFECounted    float64 // counted by the host
	VJPCounted    float64
	// Metrics holds the per-sample metric values by metric name. It may be
	// empty; Rows returns nil when a row has no metrics.
	Metrics map[string]float64
	Output  string // path of the sample's PNG relative to DIR ("" if none)
	Run     int64  // id of the run that wrote the row (0 if none)
}

// Provenance describes the invocation of ipbench that made a run.
type Provenance struct {
	IpbenchVersion, Commit, GoVersion, Host string
	Shard                                   string            // "k/N" or ""
	Checksums                               map[string]string // model, dataset and plugin checksums by name
	Started                                 time.Time
}

// RunInfo is a run as stored in the record.
type RunInfo struct {
	ID int64
	Provenance
	Finished time.Time // zero if the run has not finished (or was killed)
}

// Store is an open record. Its methods may be called from several
// goroutines.
type Store struct {
	db         *sql.DB
	dir        string
	path       string
	configHash string
	configText string
}

const schema = `
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
CREATE TABLE runs (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	started         TEXT NOT NULL,
	finished        TEXT,
	ipbench_version TEXT NOT NULL,
	git_commit      TEXT NOT NULL,
	go_version      TEXT NOT NULL,
	host            TEXT NOT NULL,
	shard           TEXT NOT NULL,
	checksums       TEXT NOT NULL -- JSON object, name -> checksum
);
CREATE TABLE samples (
	id             INTEGER PRIMARY KEY,
	solver         TEXT NOT NULL CHECK (solver <> ''),
	task           TEXT NOT NULL CHECK (task <> ''),
	dataset        TEXT NOT NULL CHECK (dataset <> ''),
	image          TEXT NOT NULL CHECK (image <> ''),
	nfe            INTEGER NOT NULL CHECK (nfe >= 1),
	sample         INTEGER NOT NULL CHECK (sample >= 0),
	solver_version TEXT NOT NULL,
	plugin_sha256  TEXT NOT NULL,
	seed           TEXT NOT NULL,
	status         TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
	error          TEXT NOT NULL,
	seconds        REAL,          -- NULL is NaN
	nfe_counted    REAL,
	vjp_counted    REAL,
	output         TEXT NOT NULL,
	run            INTEGER REFERENCES runs (id),
	UNIQUE (solver, task, dataset, image, nfe, sample)
);
CREATE INDEX samples_status ON samples (status);
CREATE TABLE metrics (
	sample INTEGER NOT NULL REFERENCES samples (id) ON DELETE CASCADE,
	name   TEXT NOT NULL CHECK (name <> ''),
	value  REAL,                  -- NULL is NaN
	PRIMARY KEY (sample, name)
) WITHOUT ROWID;
`

// Open opens the record in dir, creating dir (mode 0755) and the record if
// they do not exist. A new record stores configHash and configText, the
// effective configuration of the benchmark, once. An existing record must
// have been created with the same configHash; otherwise Open returns an
// error wrapping ErrConfigMismatch.
func Open(dir string, configHash, configText string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("empty output folder name")
	}
	if configHash == "" {
		return nil, fmt.Errorf("opening the record in %s: empty config hash", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the output folder: %w", err)
	}
	s, err := openDB(dir, true)
	if err != nil {
		return nil, err
	}
	if err := s.init(configHash, configText); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// OpenExisting opens the record already in dir, whatever its config (for
// reading it: reports, tests, `ipbench plan`).
func OpenExisting(dir string) (*Store, error) { return openExisting(dir) }

// openExisting opens the record in dir, which must exist and have been
// initialized, and reads its config.
func openExisting(dir string) (*Store, error) {
	path := filepath.Join(dir, FileName)
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s holds no record (no %s)", dir, FileName)
		}
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	s, err := openDB(dir, false)
	if err != nil {
		return nil, err
	}
	if err := s.init("", ""); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// openDB opens the SQLite database of the record in dir, creating the file
// when create is true.
func openDB(dir string, create bool) (*Store, error) {
	path := filepath.Join(dir, FileName)
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	// A file: URI of the absolute path ("file:///abs/path"), escaped, so
	// that SQLite sees the path as it is whatever characters it holds.
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}
	q := []string{
		"_pragma=busy_timeout(10000)",
		"_pragma=journal_mode(WAL)",
		"_pragma=synchronous(FULL)",
		"_pragma=foreign_keys(1)",
		"_txlock=immediate", // writers take the write lock at BEGIN
	}
	if !create {
		q = append(q, "mode=rw") // SQLite's own parameter: do not create
	}
	dsn := u.String() + "?" + strings.Join(q, "&")
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		db.Close()
		return nil, fmt.Errorf("opening %s: journal mode is %q, not WAL (the file system may not support it)", path, mode)
	}
	return &Store{db: db, dir: dir, path: path}, nil
}

// init creates the schema of a new record, or checks the schema version and
// config hash of an existing one. An empty configHash accepts any existing
// record and refuses to create one.
func (s *Store) init(configHash, configText string) error {
	// Look in a read transaction first, so that opening an existing record
	// does not wait for its writer; create the schema in a write
	// transaction, looking again, as another process may have created it
	// in between.
	done, err := s.initTx(configHash, configText, false)
	if err == nil && !done {
		_, err = s.initTx(configHash, configText, true)
	}
	return err
}

// initTx does the work of init in one transaction, a write transaction if
// write is true. It reports false if the record needs creating but write is
// false.
func (s *Store) initTx(configHash, configText string, write bool) (bool, error) {
	tx, err := s.db.BeginTx(context.Background(), &sql.TxOptions{ReadOnly: !write})
	if err != nil {
		return false, fmt.Errorf("opening %s: %w", s.path, err)
	}
	defer tx.Rollback()

	var version int
	if err := tx.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		return false, fmt.Errorf("opening %s: %w", s.path, err)
	}
	switch {
	case version > SchemaVersion:
		return false, fmt.Errorf("%s has schema version %d, newer than this ipbench understands (%d); use a newer ipbench", s.path, version, SchemaVersion)
	case version == 0:
		var n int
		if err := tx.QueryRow("SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
			return false, fmt.Errorf("opening %s: %w", s.path, err)
		}
		if n != 0 {
			return false, fmt.Errorf("%s is an SQLite database but not an ipbench record (no schema version)", s.path)
		}
		if configHash == "" {
			return false, fmt.Errorf("%s holds no record (empty database)", s.dir)
		}
		if !write {
			return false, nil
		}
		if _, err := tx.Exec(schema); err != nil {
			return false, fmt.Errorf("creating the record %s: %w", s.path, err)
		}
		if _, err := tx.Exec("INSERT INTO meta (key, value) VALUES ('config_hash', ?), ('config_text', ?)", configHash, configText); err != nil {
			return false, fmt.Errorf("creating the record %s: %w", s.path, err)
		}
		if _, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion)); err != nil {
			return false, fmt.Errorf("creating the record %s: %w", s.path, err)
		}
		if err := tx.Commit(); err != nil {
			return false, fmt.Errorf("creating the record %s: %w", s.path, err)
		}
		s.configHash, s.configText = configHash, configText
		return true, nil
	}

	var hash, text string
	err = tx.QueryRow("SELECT value FROM meta WHERE key = 'config_hash'").Scan(&hash)
	if err == nil {
		err = tx.QueryRow("SELECT value FROM meta WHERE key = 'config_text'").Scan(&text)
	}
	if err != nil {
		return false, fmt.Errorf("reading the config of %s: %w", s.path, err)
	}
	if configHash != "" && hash != configHash {
		return false, mismatch("output folder %s holds a record of a different config (hash %s, this config %s)",
			s.dir, hash, configHash)
	}
	s.configHash, s.configText = hash, text
	return true, nil
}

// Close closes the record.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", s.path, err)
	}
	return nil
}

// ConfigHash returns the hash of the config the record was created with.
func (s *Store) ConfigHash() string { return s.configHash }

// ConfigText returns the effective config the record was created with.
func (s *Store) ConfigText() string { return s.configText }

// timeLayout is the layout of times in the record: UTC, fixed width, so
// that the text sorts as the times do.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// StartRun stores a new run with its provenance and returns its id. A zero
// p.Started is replaced by the current time.
func (s *Store) StartRun(p Provenance) (int64, error) {
	if p.Started.IsZero() {
		p.Started = time.Now()
	}
	ctx := context.Background()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("starting a run in %s: %w", s.path, err)
	}
	defer tx.Rollback()
	id, err := insertRun(tx, RunInfo{Provenance: p})
	if err != nil {
		return 0, fmt.Errorf("starting a run in %s: %w", s.path, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("starting a run in %s: %w", s.path, err)
	}
	return id, nil
}

// insertRun inserts r, less its ID, and returns the new ID.
func insertRun(tx *sql.Tx, r RunInfo) (int64, error) {
	sums := r.Checksums
	if sums == nil {
		sums = map[string]string{}
	}
	js, err := json.Marshal(sums)
	if err != nil {
		return 0, err
	}
	var finished any
	if !r.Finished.IsZero() {
		finished = formatTime(r.Finished)
	}
	res, err := tx.Exec(`INSERT INTO runs (started, finished, ipbench_version, git_commit, go_version, host, shard, checksums)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		formatTime(r.Started), finished, r.IpbenchVersion, r.Commit, r.GoVersion, r.Host, r.Shard, string(js))
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// FinishRun records the current time as the end of run id.
func (s *Store) FinishRun(id int64) error {
	res, err := s.db.Exec("UPDATE runs SET finished = ? WHERE id = ?", formatTime(time.Now()), id)
	if err != nil {
		return fmt.Errorf("finishing run %d in %s: %w", id, s.path, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("finishing run %d in %s: %w", id, s.path, err)
	}
	if n == 0 {
		return fmt.Errorf("finishing run %d: no such run in %s", id, s.path)
	}
	return nil
}

// querier is what *sql.DB and *sql.Tx have in common for reading.
type querier interface {
	Query(query string, args ...any) (*sql.Rows, error)
}

// Runs returns the runs in the record in the order they were started
// (by id).
func (s *Store) Runs() ([]RunInfo, error) {
	runs, err := readRuns(s.db)
	if err != nil {
		return nil, fmt.Errorf("reading the runs of %s: %w", s.path, err)
	}
	return runs, nil
}

func readRuns(q querier) ([]RunInfo, error) {
	rs, err := q.Query(`SELECT id, started, finished, ipbench_version, git_commit, go_version, host, shard, checksums
		FROM runs ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var runs []RunInfo
	for rs.Next() {
		var (
			r        RunInfo
			started  string
			finished sql.NullString
			sums     string
		)
		if err := rs.Scan(&r.ID, &started, &finished, &r.IpbenchVersion, &r.Commit, &r.GoVersion, &r.Host, &r.Shard, &sums); err != nil {
			return nil, err
		}
		if r.Started, err = time.Parse(timeLayout, started); err != nil {
			return nil, fmt.Errorf("run %d: bad start time: %w", r.ID, err)
		}
		if finished.Valid {
			if r.Finished, err = time.Parse(timeLayout, finished.String); err != nil {
				return nil, fmt.Errorf("run %d: bad finish time: %w", r.ID, err)
			}
		}
		if err := json.Unmarshal([]byte(sums), &r.Checksums); err != nil {
			return nil, fmt.Errorf("run %d: bad checksums: %w", r.ID, err)
		}
		if len(r.Checksums) == 0 {
			r.Checksums = nil
		}
		runs = append(runs, r)
	}
	return runs, rs.Err()
}

// Done returns the keys of the samples whose status is ok. Failed samples
// are not done: a resumed run tries them again.
func (s *Store) Done() (map[Key]bool, error) {
	rs, err := s.db.Query("SELECT solver, task, dataset, image, nfe, sample FROM samples WHERE status = 'ok'")
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.path, err)
	}
	defer rs.Close()
	done := make(map[Key]bool)
	for rs.Next() {
		var k Key
		if err := rs.Scan(&k.Solver, &k.Task, &k.Dataset, &k.Image, &k.NFE, &k.Sample); err != nil {
			return nil, fmt.Errorf("reading %s: %w", s.path, err)
		}
		done[k] = true
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.path, err)
	}
	return done, nil
}

// checkRow reports what is wrong with r, if anything.
func checkRow(r *Row) error {
	var empty []string
	for _, f := range []struct{ name, v string }{
		{"solver", r.Solver}, {"task", r.Task}, {"dataset", r.Dataset}, {"image", r.Image},
	} {
		if f.v == "" {
			empty = append(empty, f.name)
		}
	}
	if len(empty) != 0 {
		return fmt.Errorf("empty %s", strings.Join(empty, ", "))
	}
	if r.NFE < 1 {
		return fmt.Errorf("NFE %d is less than 1", r.NFE)
	}
	if r.Sample < 0 {
		return fmt.Errorf("negative sample index %d", r.Sample)
	}
	if r.Status != StatusOK && r.Status != StatusFailed {
		return fmt.Errorf("status %q is neither %q nor %q", r.Status, StatusOK, StatusFailed)
	}
	for name := range r.Metrics {
		if name == "" {
			return errors.New("a metric with an empty name")
		}
	}
	if r.Output != "" && !filepath.IsLocal(r.Output) {
		return fmt.Errorf("output path %q is not a relative path inside the output folder", r.Output)
	}
	if r.Run < 0 {
		return fmt.Errorf("negative run id %d", r.Run)
	}
	return nil
}

// Put stores rows in one transaction: when Put returns nil every row is
// stored durably, and when it returns an error none is. A row replaces any
// row stored before with the same key, including one earlier in rows, so a
// retried failure that succeeds becomes ok. Put refuses the whole batch if a
// row's status is neither ok nor failed, a key string is empty, NFE is less
// than 1, the sample index is negative, a metric name is empty, Output is
// not a local relative path, or Run is neither 0 nor a run of the record.
func (s *Store) Put(rows []Row) error {
	for i := range rows {
		if err := checkRow(&rows[i]); err != nil {
			return fmt.Errorf("writing %s: row %d (%v): %v; nothing stored", s.path, i, rows[i].Key, err)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(context.Background(), nil)
	if err != nil {
		return fmt.Errorf("writing %s: %w", s.path, err)
	}
	defer tx.Rollback()
	if err := putRows(tx, rows); err != nil {
		return fmt.Errorf("writing %s: %w; nothing stored", s.path, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("writing %s: %w; nothing stored", s.path, err)
	}
	return nil
}

// nullNaN returns nil for NaN, which SQLite stores as NULL, else v.
func nullNaN(v float64) any {
	if math.IsNaN(v) {
		return nil
	}
	return v
}

// putRows upserts rows, which have been checked, in tx.
func putRows(tx *sql.Tx, rows []Row) error {
	runs := make(map[int64]bool)
	for _, r := range rows {
		if r.Run != 0 && !runs[r.Run] {
			var n int
			if err := tx.QueryRow("SELECT count(*) FROM runs WHERE id = ?", r.Run).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("row %v: run %d is not in the record", r.Key, r.Run)
			}
			runs[r.Run] = true
		}
	}
	del, err := tx.Prepare("DELETE FROM samples WHERE solver = ? AND task = ? AND dataset = ? AND image = ? AND nfe = ? AND sample = ?")
	if err != nil {
		return err
	}
	defer del.Close()
	ins, err := tx.Prepare(`INSERT INTO samples (solver, task, dataset, image, nfe, sample,
		solver_version, plugin_sha256, seed, status, error, seconds, nfe_counted, vjp_counted, output, run)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	insMetric, err := tx.Prepare("INSERT INTO metrics (sample, name, value) VALUES (?, ?, ?)")
	if err != nil {
		return err
	}
	defer insMetric.Close()

	for _, r := range rows {
		k := r.Key
		if _, err := del.Exec(k.Solver, k.Task, k.Dataset, k.Image, k.NFE, k.Sample); err != nil {
			return fmt.Errorf("row %v: %w", k, err)
		}
		var run any
		if r.Run != 0 {
			run = r.Run
		}
		res, err := ins.Exec(k.Solver, k.Task, k.Dataset, k.Image, k.NFE, k.Sample,
			r.SolverVersion, r.PluginSHA256, r.Seed, r.Status, r.Error,
			nullNaN(r.Seconds), nullNaN(r.NFECounted), nullNaN(r.VJPCounted), r.Output, run)
		if err != nil {
			return fmt.Errorf("row %v: %w", k, err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("row %v: %w", k, err)
		}
		names := make([]string, 0, len(r.Metrics))
		for name := range r.Metrics {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if _, err := insMetric.Exec(id, name, nullNaN(r.Metrics[name])); err != nil {
				return fmt.Errorf("row %v, metric %q: %w", k, name, err)
			}
		}
	}
	return nil
}

// Rows returns every row of the record, sorted by key: by solver, task,
// dataset and image (by bytes), then NFE and sample index.
func (s *Store) Rows() ([]Row, error) {
	rows, err := readRows(s.db)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.path, err)
	}
	return rows, nil
}

// nanNull returns the value of v, or NaN if it is NULL.
func nanNull(v sql.NullFloat64) float64 {
	if !v.Valid {
		return math.NaN()
	}
	return v.Float64
}

// readRows reads every row with its metrics in one statement, so that the
// result is a consistent snapshot.
func readRows(q querier) ([]Row, error) {
	rs, err := q.Query(`SELECT s.id, s.solver, s.task, s.dataset, s.image, s.nfe, s.sample,
		s.solver_version, s.plugin_sha256, s.seed, s.status, s.error, s.seconds, s.nfe_counted, s.vjp_counted,
		s.output, s.run, m.name, m.value
		FROM samples s LEFT JOIN metrics m ON m.sample = s.id
		ORDER BY s.solver, s.task, s.dataset, s.image, s.nfe, s.sample, m.name`)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var (
		rows   []Row
		lastID int64 = -1
	)
	for rs.Next() {
		var (
			id             int64
			r              Row
			secs, nfe, vjp sql.NullFloat64
			run            sql.NullInt64
			metricName     sql.NullString
			metricValue    sql.NullFloat64
		)
		if err := rs.Scan(&id, &r.Solver, &r.Task, &r.Dataset, &r.Image, &r.NFE, &r.Sample,
			&r.SolverVersion, &r.PluginSHA256, &r.Seed, &r.Status, &r.Error, &secs, &nfe, &vjp,
			&r.Output, &run, &metricName, &metricValue); err != nil {
			return nil, err
		}
		if id != lastID {
			r.Seconds, r.NFECounted, r.VJPCounted = nanNull(secs), nanNull(nfe), nanNull(vjp)
			r.Run = run.Int64
			rows = append(rows, r)
			lastID = id
		}
		if metricName.Valid {
			last := &rows[len(rows)-1]
			if last.Metrics == nil {
				last.Metrics = make(map[string]float64)
			}
			last.Metrics[metricName.String] = nanNull(metricValue)
		}
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	return rows, nil
}
