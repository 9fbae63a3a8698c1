package cli

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipbench/ipbench/harness/store"
)

// runConfig is a small benchmark: 6 images × 2 tasks × 3 (solver, NFE) = 36
// batches of 2 samples; DPS at 200 NFE makes it last a few seconds.
const runConfig = `output: %s
seed: 3
resolution: 8
samples: 2
solvers:
  - name: eps
    nfe: [1, 3]
  - name: dps
    nfe: [200]
tasks:
  - name: sr4
  - name: inpaint-random
datasets:
  - name: mix
    kind: gmm
    components: 3
    images: 6
`

func writeConfig(t *testing.T, dir, out string) string {
	t.Helper()
	return write(t, dir, "bench.yaml", fmt.Sprintf(runConfig, out))
}

// ipbench runs the built binary in its own process group.
func ipbench(args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(binDir, "ipbench"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// recordRows returns the rows of the record in dir.
func recordRows(t *testing.T, dir string) []store.Row {
	t.Helper()
	st, err := store.OpenExisting(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.Rows()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// runRows runs the configuration cfg and returns the rows of its record
// in out.
func runRows(t *testing.T, cfg, out string) []store.Row {
	t.Helper()
	if b, err := ipbench("run", cfg).CombinedOutput(); err != nil {
		t.Fatalf("ipbench run: %v\n%s", err, b)
	}
	return recordRows(t, out)
}

// rowsOf returns a record's rows without what legitimately differs between
// runs (run ids, wall times), and the bytes of each sample's PNG.
func rowsOf(t *testing.T, dir string) ([]store.Row, map[string][]byte) {
	t.Helper()
	rows := recordRows(t, dir)
	files := map[string][]byte{}
	for i := range rows {
		rows[i].Run, rows[i].Seconds = 0, 0
		b, err := os.ReadFile(filepath.Join(dir, rows[i].Output))
		if err != nil {
			t.Fatal(err)
		}
		files[rows[i].Output] = b
	}
	return rows, files
}

func sameRecord(t *testing.T, name, a, b string) {
	t.Helper()
	ra, fa := rowsOf(t, a)
	rb, fb := rowsOf(t, b)
	if len(ra) != 72 {
		t.Fatalf("%s: reference has %d rows, want 72", name, len(ra))
	}
	if !reflect.DeepEqual(ra, rb) {
		for i := range ra {
			if i >= len(rb) || !reflect.DeepEqual(ra[i], rb[i]) {
				t.Fatalf("%s: %d rows against %d; first difference at %d:\n%+v\n%+v", name, len(ra), len(rb), i, ra[i], rb[min(i, len(rb)-1)])
			}
		}
		t.Fatalf("%s: %d rows against %d", name, len(ra), len(rb))
	}
	for k, v := range fa {
		if !bytes.Equal(v, fb[k]) {
			t.Errorf("%s: sample image %s differs", name, k)
		}
	}
}

// A run killed with SIGKILL at random moments and restarted ends with exactly
// the rows of an uninterrupted run: the same sample values (per-sample seeds)
// and images, nothing twice.
func TestKilledRunResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the benchmark five times")
	}
	dir := t.TempDir()
	ref := filepath.Join(dir, "ref")
	start := time.Now()
	if out, err := ipbench("run", writeConfig(t, dir, ref)).CombinedOutput(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, out)
	}
	full := time.Since(start)
	killed := filepath.Join(dir, "killed")
	cfgDir := filepath.Join(dir, "k")
	os.Mkdir(cfgDir, 0o755)
	cfg := writeConfig(t, cfgDir, killed)
	rng := rand.New(rand.NewPCG(11, 12))
	kills := 0
	for i := 0; i < 4; i++ {
		cmd := ipbench("run", cfg)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(float64(full) * (0.1 + 0.5*rng.Float64())))
		if syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) == nil {
			kills++
		}
		cmd.Wait()
	}
	if out, err := ipbench("run", cfg).CombinedOutput(); err != nil {
		t.Fatalf("final run: %v\n%s", err, out)
	}
	st, err := store.OpenExisting(killed)
	if err != nil {
		t.Fatal(err)
	}
	runs, _ := st.Runs()
	st.Close()
	t.Logf("reference %v; %d kills; %d runs in the record", full, kills, len(runs))
	sameRecord(t, "killed and resumed", ref, killed)
}

// The plan run as 1 shard and as 4 concurrent shards, then merged, gives the
// same rows; merging refuses a record of another config.
func TestShardsMerge(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the benchmark twice")
	}
	dir := t.TempDir()
	ref := filepath.Join(dir, "ref")
	cfg := writeConfig(t, dir, ref)
	if out, err := ipbench("run", cfg).CombinedOutput(); err != nil {
		t.Fatalf("one shard: %v\n%s", err, out)
	}
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	var parts []string
	for k := 1; k <= 4; k++ {
		part := filepath.Join(dir, fmt.Sprintf("shard%d", k))
		parts = append(parts, part)
		cmd := ipbench("run", cfg, "--shard", fmt.Sprintf("%d/4", k), "--output", part)
		var b bytes.Buffer
		cmd.Stdout, cmd.Stderr = &b, &b
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, &b)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("shard %d: %v\n%s", i+1, err, outs[i])
		}
	}
	merged := filepath.Join(dir, "merged")
	if code, _, stderr := run(t, append([]string{"merge", merged}, parts...)...); code != 0 {
		t.Fatalf("merge: %s", stderr)
	}
	sameRecord(t, "4 shards merged", ref, merged)

	other := filepath.Join(dir, "other")
	os.Mkdir(other, 0o755)
	ocfg := write(t, other, "b.yaml", strings.Replace(fmt.Sprintf(runConfig, filepath.Join(other, "rec")), "seed: 3", "seed: 4", 1))
	if out, err := ipbench("run", ocfg, "--shard", "1/36").CombinedOutput(); err != nil {
		t.Fatalf("other config: %v\n%s", err, out)
	}
	if code, _, stderr := run(t, "merge", filepath.Join(dir, "m2"), ref, filepath.Join(other, "rec")); code != 2 || !strings.Contains(stderr, "different config") {
		t.Errorf("merging different configs: exit %d, %q", code, stderr)
	}
}

// Bad configurations and data are refused before any work, with a message
// that names the problem, and no record is made.
func TestRunBadInput(t *testing.T) {
	dir := t.TempDir()
	base := fmt.Sprintf(runConfig, filepath.Join(dir, "out"))
	bad := write(t, dir, "bad.png", "not a png at all")
	_ = bad
	imgs := filepath.Join(dir, "imgs")
	os.Mkdir(imgs, 0o755)
	write(t, imgs, "a.png", "\x89PNG\r\n\x1a\n truncated")
	for _, tc := range []struct{ name, from, to, want string }{
		{"unknown solver", "name: dps", "name: dpz", `unknown solver "dpz"`},
		{"unknown task", "name: sr4\n", "name: sr8\n", "sr8"},
		{"unknown metric", "seed: 3", "seed: 3\nmetrics: [fud]", `unknown metric "fud"`},
		{"solver parameter out of range", "nfe: [200]", "nfe: [200]\n    params: {ancestral: 3}", "ancestral"},
		{"unknown solver parameter", "nfe: [200]", "nfe: [200]\n    params: {eta: 1}", `unknown parameter "eta"`},
		{"task parameter out of range", "name: inpaint-random", "name: inpaint-random\n    params: {missing: 1.5}", "missing"},
		{"missing image folder", "components: 3", "means: " + filepath.Join(dir, "nowhere"), "nowhere"},
		{"undecodable image", "components: 3", "means: " + imgs, "a.png"},
		{"resolution", "resolution: 8", "resolution: 10", "divisible"},
	} {
		cfg := write(t, dir, "c.yaml", strings.Replace(base, tc.from, tc.to, 1))
		code, _, stderr := run(t, "run", cfg)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, %q; want exit 2 naming %q", tc.name, code, stderr, tc.want)
		}
		if _, err := os.Stat(filepath.Join(dir, "out", store.FileName)); err == nil {
			t.Fatalf("%s: a record was made", tc.name)
		}
	}
	// An output folder that holds a record of another config.
	cfg := write(t, dir, "c.yaml", base)
	if code, _, stderr := run(t, "run", cfg, "--shard", "1/36"); code != 0 {
		t.Fatalf("first run: %s", stderr)
	}
	cfg = write(t, dir, "c.yaml", strings.Replace(base, "seed: 3", "seed: 5", 1))
	if code, _, stderr := run(t, "run", cfg); code != 2 || !strings.Contains(stderr, "holds a record of a different config") {
		t.Errorf("different config: exit %d, %q", code, stderr)
	}
}

// Ctrl-C (SIGINT to the whole process group, as a terminal sends it)
// finishes the batch in flight, records it, and exits cleanly; the next run
// completes the plan.
func TestInterruptedRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the benchmark")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "rec")
	// DPS at 1000 NFE makes each of its batches last a good part of a
	// second, so that the run is still going when the interrupt comes.
	cfg := write(t, dir, "bench.yaml", strings.Replace(fmt.Sprintf(runConfig, out), "nfe: [200]", "nfe: [1000]", 1))
	cmd := ipbench("run", cfg)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once the first batches are recorded.
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if st, err := store.OpenExisting(out); err == nil {
			rows, _ := st.Rows()
			st.Close()
			if len(rows) > 0 {
				break
			}
		}
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("interrupted run: %v\n%s", err, b.String())
	}
	if !strings.Contains(b.String(), "stopped early") || !strings.Contains(b.String(), "finishing the batch in flight") {
		t.Errorf("output:\n%s", b.String())
	}
	rows, _ := rowsOf(t, out)
	if len(rows) == 0 || len(rows) >= 72 || len(rows)%2 != 0 {
		t.Errorf("%d rows after the interrupt: want whole batches of 2, some but not all", len(rows))
	}
	if o, err := ipbench("run", cfg).CombinedOutput(); err != nil {
		t.Fatalf("resumed run: %v\n%s", err, o)
	}
	if rows, _ := rowsOf(t, out); len(rows) != 72 {
		t.Errorf("%d rows after resuming, want 72", len(rows))
	}
}

// A recorded sample whose image has gone (images are not synced one by one)
// is done again, with the same bits.
func TestMissingImageRedone(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "rec")
	cfg := writeConfig(t, dir, out)
	if code, _, stderr := run(t, "run", cfg, "--shard", "1/36"); code != 0 {
		t.Fatal(stderr)
	}
	rows, files := rowsOf(t, out)
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	lost := filepath.Join(out, rows[1].Output)
	os.Remove(lost)
	code, stdout, stderr := run(t, "run", cfg, "--shard", "1/36")
	if code != 0 || !strings.Contains(stdout, "1 run") {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	b, err := os.ReadFile(lost)
	if err != nil || !bytes.Equal(b, files[rows[1].Output]) {
		t.Errorf("image not redone identically: %v", err)
	}
}

func TestReport(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "rec")
	cfg := writeConfig(t, dir, out)
	if code, _, stderr := run(t, "run", cfg, "--shard", "1/3"); code != 0 {
		t.Fatal(stderr)
	}
	code, stdout, stderr := run(t, "report", out)
	if code != 0 {
		t.Fatal(stderr)
	}
	for _, want := range []string{"### mix, sr4", "### mix, inpaint-random", "psnr ↑ (mean ± 95%)", "counted NFE"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
	if !hasRow(stdout, "eps", "1") || !strings.Contains(stdout, "**") {
		t.Errorf("report rows:\n%s", stdout)
	}
	for _, f := range []string{"report.md", "results.csv", "results.json", "plots/mix_sr4_psnr.png", "plots/mix_sr4_psnr.svg", "plots/mix_inpaint-random_seconds.png"} {
		if st, err := os.Stat(filepath.Join(out, "report", f)); err != nil || st.Size() == 0 {
			t.Errorf("report file %s: %v", f, err)
		}
	}
	csvData, _ := os.ReadFile(filepath.Join(out, "report", "results.csv"))
	if !strings.HasPrefix(string(csvData), "dataset,task,solver,nfe,psnr_mean,psnr_ci95,") {
		t.Errorf("csv header: %.80s", csvData)
	}
	if code, _, _ := run(t, "report", filepath.Join(dir, "nothing")); code != 2 {
		t.Errorf("report of a folder without a record: exit %d", code)
	}
}

// children returns the pids whose parent is pid (from /proc).
func children(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var child int
		if _, err := fmt.Sscan(e.Name(), &child); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces: read after ')'.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		var ppid int
		if len(f) > 1 {
			fmt.Sscan(f[1], &ppid)
		}
		if ppid == pid {
			out = append(out, child)
		}
	}
	return out
}

// A host killed with SIGKILL cannot stop its plugins; they notice and exit.
func TestNoOrphanPlugins(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the plugins")
	}
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	dir := t.TempDir()
	cmd := ipbench("run", writeConfig(t, dir, filepath.Join(dir, "rec")))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var kids []int
	for deadline := time.Now().Add(5 * time.Second); len(kids) == 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		kids = children(cmd.Process.Pid)
	}
	if len(kids) == 0 {
		t.Fatal("no plugin process started")
	}
	cmd.Process.Kill() // SIGKILL to ipbench alone, not its group
	cmd.Wait()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		left := 0
		for _, k := range kids {
			if syscall.Kill(k, 0) == nil {
				left++
			}
		}
		if left == 0 {
			return
		}
	}
	t.Errorf("plugin processes %v still run 5 s after their host was killed", kids)
}
