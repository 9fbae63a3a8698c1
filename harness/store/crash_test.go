package store

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// helperEnv names the folder the helper process writes into; the helper is
// the test binary run with it set.
const helperEnv = "IPBENCH_STORE_HELPER_DIR"

// crashBatch is the number of rows in a batch of the helper.
const crashBatch = 4

// crashRows returns batch b of the helper: crashBatch rows for image b, each
// with metrics whose values are b.
func crashRows(b int, run int64) []Row {
	rows := make([]Row, crashBatch)
	for i := range rows {
		m := make(map[string]float64)
		for j := 0; j < 16; j++ {
			m[fmt.Sprintf("metric%02d", j)] = float64(b)
		}
		rows[i] = Row{
			Key:     Key{Solver: "s", Task: "t", Dataset: "d", Image: fmt.Sprintf("%06d", b), NFE: 1, Sample: i},
			Seed:    strconv.FormatInt(int64(b), 16),
			Status:  StatusOK,
			Error:   strings.Repeat("x", 2000), // make the transaction bigger
			Metrics: m,
			Run:     run,
		}
	}
	return rows
}

// TestHelperProcess is not a test: run with helperEnv set, it writes
// batches into the record in that folder, printing the number of each
// batch after Put returns, until it is killed.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		return
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	s, err := Open(dir, "crash", "crash test")
	if err != nil {
		fail(err)
	}
	rows, err := s.Rows()
	if err != nil {
		fail(err)
	}
	next := 0
	if len(rows) > 0 {
		next, _ = strconv.Atoi(rows[len(rows)-1].Image)
		next++
	}
	run, err := s.StartRun(Provenance{Host: "helper"})
	if err != nil {
		fail(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for b := next; time.Now().Before(deadline); b++ {
		if err := s.Put(crashRows(b, run)); err != nil {
			fail(err)
		}
		fmt.Printf("%d\n", b)
	}
	os.Exit(0)
}

// TestKill kills a process writing batches with SIGKILL at random moments
// and checks that the record holds every batch the process reported as
// stored, at most one more, no part of a batch, and passes SQLite's
// integrity check.
func TestKill(t *testing.T) {
	dir := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	reported := -1
	for rep := 0; rep < 8; rep++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperEnv+"="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan int, 1<<16)
		go func() {
			defer close(lines)
			r := bufio.NewReader(out)
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return // a line without its newline is not reported
				}
				b, err := strconv.Atoi(strings.TrimSpace(l))
				if err != nil {
					return
				}
				lines <- b
			}
		}()
		// Kill it at a random moment once it is writing.
		select {
		case b, ok := <-lines:
			if !ok {
				cmd.Wait()
				t.Fatalf("helper stopped before writing: %s", stderr.String())
			}
			reported = b
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("helper wrote nothing in 10 s: %s", stderr.String())
		}
		time.Sleep(time.Duration(rng.IntN(200_000)) * time.Microsecond)
		if err := cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		for b := range lines {
			reported = b
		}
		cmd.Wait()
		io.Copy(io.Discard, out)
		if _, err := os.Stat(filepath.Join(dir, FileName+"-wal")); err != nil {
			t.Errorf("rep %d: no write-ahead log after the kill: %v", rep, err)
		}

		s, err := Open(dir, "crash", "crash test")
		if err != nil {
			t.Fatalf("rep %d: reopening after the kill: %v", rep, err)
		}
		var check string
		if err := s.db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
			t.Errorf("rep %d: integrity check: %q, %v", rep, check, err)
		}
		rows, err := s.Rows()
		if err != nil {
			t.Fatal(err)
		}
		runs, err := s.Runs()
		if err != nil {
			t.Fatal(err)
		}
		s.Close()

		if len(rows)%crashBatch != 0 {
			t.Errorf("rep %d: %d rows, not a whole number of batches", rep, len(rows))
		}
		stored := len(rows) / crashBatch
		if stored-1 < reported || stored-1 > reported+1 {
			t.Errorf("rep %d: batches 0 to %d stored, but the helper reported batch %d stored last", rep, stored-1, reported)
		}
		for i, r := range rows {
			b := i / crashBatch
			want := crashRows(b, r.Run)[i%crashBatch]
			if !sameRow(r, want) {
				t.Errorf("rep %d: row %d = %+v, want %+v", rep, i, r.Key, want.Key)
				break
			}
		}
		if len(runs) != rep+1 {
			t.Errorf("rep %d: %d runs, want %d", rep, len(runs), rep+1)
		}
		t.Logf("rep %d: killed after batch %d was reported, %d stored", rep, reported, stored)
	}
}
