package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/ipbench/ipbench/harness/atomicfile"
	"github.com/ipbench/ipbench/harness/dataset"
	"github.com/ipbench/ipbench/harness/netmodel"
	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/harness/task"
	"github.com/ipbench/ipbench/harness/train"
	"github.com/ipbench/ipbench/harness/unet"
	"github.com/ipbench/ipbench/metrics/fidelity"
	"github.com/ipbench/ipbench/plugins/sdk"
	"github.com/ipbench/ipbench/reports/plot"
)

// The files of a training folder.
const (
	trainCheckpoint = "checkpoint.ipbc"
	trainRecord     = "train.json"
	trainLoss       = "loss" // .png and .svg
)

// trainFlags are the flags every train command shares.
type trainFlags struct {
	data                  []string
	holdout, limit, res   int
	out, init             string
	tasks                 string
	sigmaY                float64
	s                     train.Settings
	base                  int
	fresh                 bool
	command               []string // as given, for the record
	noise                 train.EDM
	evalImages, evalDraws int
}

func addTrainFlags(fs *flag.FlagSet, kind string) *trainFlags {
	f := &trainFlags{s: train.DefaultSettings(), noise: train.DefaultEDM()}
	fs.Float64Var(&f.noise.PMean, "p-mean", f.noise.PMean, "mean of ln σ of the training noise levels (EDM: −1.2)")
	fs.Float64Var(&f.noise.PStd, "p-std", f.noise.PStd, "standard deviation of ln σ (EDM: 1.2); an EPS network is evaluated at σ_max = 80 at 1 NFE, which EDM's levels almost never reach: widen them for it")
	fs.Func("data", "a folder of training images (repeat for several); the first --holdout images of each are left out", func(v string) error {
		f.data = append(f.data, v)
		return nil
	})
	fs.IntVar(&f.holdout, "holdout", 8, "images left out at the start of each folder (benchmarks evaluate on them: a folder dataset with limit = this)")
	fs.IntVar(&f.limit, "limit", 0, "at most this many training images per folder (0: all the rest)")
	fs.IntVar(&f.res, "resolution", 32, "image side: 32 or 64 (the architectures unet.Config32 and Config64)")
	fs.IntVar(&f.base, "base", 0, "width of the network's first level (0: the architecture's default)")
	fs.StringVar(&f.out, "out", "", "folder for the checkpoint, the weights, the loss curve and the record (required)")
	fs.IntVar(&f.s.Steps, "steps", f.s.Steps, "optimiser steps in all (a resumed run goes on to this many)")
	fs.IntVar(&f.s.Batch, "batch", f.s.Batch, "examples per step")
	fs.Float64Var(&f.s.LR, "lr", f.s.LR, "Adam's learning rate")
	fs.IntVar(&f.s.Warmup, "warmup", f.s.Warmup, "steps of learning-rate warm-up")
	fs.Float64Var(&f.s.EMAImages, "ema-images", f.s.EMAImages, "half-life of the weight average, in images")
	fs.Uint64Var(&f.s.Seed, "seed", f.s.Seed, "seed of the initial weights and the example stream")
	fs.IntVar(&f.s.Every, "checkpoint-every", f.s.Every, "steps between checkpoints")
	fs.BoolVar(&f.fresh, "fresh", false, "start again even if --out holds a checkpoint")
	fs.IntVar(&f.evalImages, "eval-images", 8, "held-out images for the denoising PSNR of the record (0: none)")
	fs.IntVar(&f.evalDraws, "eval-draws", 4, "noise draws per held-out image and noise level")
	if kind != "denoiser" {
		fs.StringVar(&f.tasks, "tasks", "all", "the tasks: all (one network with a label per task, netmodel.Tasks) or one task's name (a single-task network)")
		fs.Float64Var(&f.sigmaY, "sigma-y", 0.05, "measurement noise σ_y in [-1, 1] units")
		fs.StringVar(&f.init, "init", "", "a trained denoiser (.ipbw) to fine-tune from: its weights are copied, the conditioning inputs start at zero")
	}
	return f
}

// trainRecordFile is what train.json says: enough to tell what the weights
// are and how they were made.
type trainRecordFile struct {
	Kind         string         `json:"kind"`
	Objective    string         `json:"objective"`
	Architecture unet.Config    `json:"architecture"`
	Parameters   int            `json:"parameters"`
	Settings     train.Settings `json:"settings"`
	Data         []trainData    `json:"data"`
	Init         string         `json:"init,omitempty"`
	Steps        int            `json:"steps"`
	Seconds      float64        `json:"seconds"` // wall time of all the sessions of the run
	FinalLoss    float64        `json:"final_loss"`
	Weights      string         `json:"weights"`
	WeightsSHA   string         `json:"weights_sha256"`
	HeldOut      []heldOutPSNR  `json:"held_out_psnr,omitempty"`
	Machine      string         `json:"machine"`
	Command      []string       `json:"command"`
	Resumed      []int          `json:"resumed_at,omitempty"`
}

type trainData struct {
	Folder   string `json:"folder"`
	Offset   int    `json:"offset"`
	Images   int    `json:"images"`
	Checksum string `json:"checksum"`
}

// heldOutPSNR is the PSNR (dB, [0, 1] range) of the network's output at
// one noise level on held-out images.
type heldOutPSNR struct {
	Task  string  `json:"task,omitempty"`
	Sigma float64 `json:"sigma"`
	PSNR  float64 `json:"psnr"`
	Input float64 `json:"input_psnr"` // of the network's input itself (x_σ, or the pivot μ*)
	N     int     `json:"n"`
}

func runTrain(kind string) func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		fs := newFlags("train "+kind, stdout)
		f := addTrainFlags(fs, kind)
		if err := parse(fs, args); err != nil {
			return err
		}
		f.command = append([]string{"ipbench", "train", kind}, args...)
		if f.out == "" {
			return badInput("--out missing: the folder for the checkpoint and the weights")
		}
		if len(f.data) == 0 {
			return badInput("--data missing: a folder of training images")
		}
		return trainRun(ctx, kind, f, stdout, stderr)
	}
}

func trainRun(ctx context.Context, kind string, f *trainFlags, stdout, stderr io.Writer) error {
	cfg, err := archOf(f.res, f.base)
	if err != nil {
		return asInput(err)
	}
	shape := operator.Shape{C: cfg.Channels, H: cfg.Resolution, W: cfg.Resolution}
	data, used, err := loadImages(f.data, f.holdout, f.limit, f.res)
	if err != nil {
		return asInput(err)
	}
	var measured train.Measured
	if kind != "denoiser" {
		if measured, err = measuredOf(f.tasks, f.sigmaY, shape); err != nil {
			return asInput(err)
		}
		cfg.CondChannels = netmodel.CondChannels(cfg.Channels)
		if measured.Labelled {
			cfg.Labels = len(netmodel.Tasks)
		}
	}
	obj := objectiveOf(kind, train.Images{Shape: shape, X: data, Flip: true}, f.noise, measured)
	s := f.s
	s.Objective = kind + ": " + obj.String()
	if err := s.Validate(); err != nil {
		return asInput(err)
	}
	net, err := unet.New(cfg, rand.New(rand.NewPCG(s.Seed, 0x5eed)))
	if err != nil {
		return err
	}
	if f.init != "" {
		src, _, _, err := unet.LoadFile(f.init)
		if err != nil {
			return asInput(fmt.Errorf("--init: %w", err))
		}
		if err := unet.Transplant(net, src); err != nil {
			return asInput(fmt.Errorf("--init %s: %w", f.init, err))
		}
	}
	params := trainParams(net.Params())
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return err
	}
	ckpt := filepath.Join(f.out, trainCheckpoint)
	rec := trainRecordFile{Kind: kind, Objective: s.Objective, Architecture: cfg, Parameters: net.NumParams(), Settings: s, Data: used, Init: f.init,
		Machine: fmt.Sprintf("%s/%s, %d cores", runtime.GOOS, runtime.GOARCH, runtime.NumCPU()), Command: f.command}
	st := train.NewState(params, s.Seed)
	if _, err := os.Stat(ckpt); err == nil && !f.fresh {
		got, cs, err := train.LoadCheckpoint(ckpt, params)
		if err != nil {
			return asInput(fmt.Errorf("%w (start again with --fresh)", err))
		}
		if err := train.Resume(cs, s); err != nil {
			return asInput(fmt.Errorf("%s: %w (start again with --fresh, or give the same flags)", ckpt, err))
		}
		st = got
		if old, err := readTrainRecord(f.out); err == nil {
			rec.Seconds, rec.Resumed = old.Seconds, append(old.Resumed, st.Step)
		}
		fmt.Fprintf(stderr, "resuming %s at step %d of %d\n", ckpt, st.Step, s.Steps)
	}
	fmt.Fprintf(stderr, "training a %s network (%d parameters) on %d images at %d px: %s\n", kind, net.NumParams(), len(data), f.res, s.Objective)
	before := rec.Seconds
	start := time.Now()
	save := func(st *train.State) error {
		rec.Seconds = before + time.Since(start).Seconds()
		rec.Steps = st.Step
		if err := train.SaveCheckpoint(ckpt, params, st, s); err != nil {
			return err
		}
		return writeTrainRecord(f.out, rec)
	}
	bar := newTrainProgress(stderr, isTerminal(stderr), s.Steps, st.Step)
	if err := train.Run(ctx, net, params, obj, s, st, save, bar.step); err != nil {
		bar.done()
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted at step %d; the checkpoint at step %d is kept: run the same command to go on", st.Step, st.Step/s.Every*s.Every)
		}
		return err
	}
	bar.done()

	// The weights kept are the average's (as EDM's, and everyone's since).
	for i, p := range params {
		copy(p.Value, st.EMA[i])
	}
	rec.FinalLoss = meanTail(st.Losses, 100)
	switch {
	case f.evalImages > 0 && f.holdout == 0:
		// Limit 0 would read every image: the training set itself.
		fmt.Fprintln(stderr, "no held-out images (--holdout 0): the record has no held-out PSNR")
	case f.evalImages > 0:
		held, _, err := loadImages(f.data, 0, min(f.holdout, f.evalImages), f.res)
		if err != nil {
			return err
		}
		if len(held) > f.evalImages {
			held = held[:f.evalImages]
		}
		if rec.HeldOut, err = heldOut(ctx, net, kind, held, shape, measured, f.evalDraws); err != nil {
			return err
		}
	}
	name := kind + ".ipbw"
	meta := unet.Meta{Kind: kind, Steps: int64(st.Step), Data: dataNote(used), Notes: s.Objective}
	if kind != "denoiser" && !measured.Labelled {
		meta.Extra = map[string]string{"task": measured.Tasks[0].Name}
	}
	path := filepath.Join(f.out, name)
	if rec.WeightsSHA, err = net.SaveFile(path, meta); err != nil {
		return err
	}
	rec.Weights = name
	if err := writeTrainRecord(f.out, rec); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(f.out, "card.md"), []byte(card(rec))); err != nil {
		return err
	}
	if err := lossCurve(filepath.Join(f.out, trainLoss), kind, st.Losses); err != nil {
		fmt.Fprintf(stderr, "loss curve: %v\n", err)
	}
	fmt.Fprintf(stdout, "wrote %s (SHA-256 %s): %d steps, %.0f s, final loss %.4f\n", path, rec.WeightsSHA, st.Step, rec.Seconds, rec.FinalLoss)
	for _, h := range rec.HeldOut {
		fmt.Fprintf(stdout, "  held-out PSNR %-15s σ = %-5g %6.2f dB (its input: %6.2f dB; %d images)\n", h.Task, h.Sigma, h.PSNR, h.Input, h.N)
	}
	return nil
}

// archOf is the architecture of a resolution, with the first level's
// width changed when base > 0.
func archOf(res, base int) (unet.Config, error) {
	var cfg unet.Config
	switch res {
	case 32:
		cfg = unet.Config32()
	case 64:
		cfg = unet.Config64()
	default:
		return cfg, fmt.Errorf("--resolution %d: the architectures are for 32 and 64", res)
	}
	if base > 0 {
		cfg.Base = base
		if cfg.Groups > base {
			cfg.Groups = base / 2
		}
	}
	return cfg, cfg.Validate()
}

// measuredOf reads --tasks: "all" gives a labelled network over every
// task of netmodel.Tasks, a task's name a single-task one.
func measuredOf(tasks string, sigmaY float64, shape operator.Shape) (train.Measured, error) {
	m := train.Measured{SigmaY: sigmaY}
	names := []string{tasks}
	if tasks == "all" {
		names, m.Labelled = netmodel.Tasks, true
	} else if _, err := netmodel.TaskLabel(tasks); err != nil {
		return m, fmt.Errorf("--tasks: %w", err)
	}
	for _, n := range names {
		r, err := task.Resolve(task.Spec{Name: n}, shape)
		if err != nil {
			return m, fmt.Errorf("--tasks: %w", err)
		}
		m.Tasks = append(m.Tasks, r)
	}
	return m, nil
}

// loadImages reads the images of each folder from offset on (at most limit
// of them, 0: all) at res px.
func loadImages(dirs []string, offset, limit, res int) ([][]float64, []trainData, error) {
	var out [][]float64
	var used []trainData
	for _, dir := range dirs {
		fo, err := dataset.OpenFolder(dir, dataset.FolderOptions{Size: res, Offset: offset, Limit: limit})
		if err != nil {
			return nil, nil, err
		}
		imgs, err := fo.LoadAll()
		if err != nil {
			return nil, nil, err
		}
		for _, img := range imgs {
			out = append(out, img.Pixels)
		}
		used = append(used, trainData{Folder: dir, Offset: offset, Images: fo.Len(), Checksum: fo.Checksum()})
	}
	return out, used, nil
}

// dataNote says what the network was trained on, for its weights' header.
func dataNote(used []trainData) string {
	var parts []string
	for _, u := range used {
		parts = append(parts, fmt.Sprintf("%s from image %d on: %d images (folder SHA-256 %s)", u.Folder, u.Offset, u.Images, u.Checksum))
	}
	return strings.Join(parts, "; ")
}

func trainParams(ps []unet.Param) []train.Param {
	out := make([]train.Param, len(ps))
	for i, p := range ps {
		out[i] = train.Param{Name: p.Name, Value: p.Value, Grad: p.Grad}
	}
	return out
}

// objectiveOf is the training objective of a kind of network: denoising
// for a denoiser, the posterior (EPS) or restoring objective on m for the
// others.
func objectiveOf(kind string, data train.Images, noise train.EDM, m train.Measured) interface {
	train.Objective
	String() string
} {
	switch kind {
	case "eps":
		return train.Posterior{Data: data, Noise: noise, Measured: m}
	case "restorer":
		return train.Restoring{Data: data, Noise: noise, Measured: m}
	}
	return train.Denoising{Data: data, Noise: noise}
}

// heldOut measures the network's PSNR on held-out images at a few noise
// levels (per task for a conditional network): the numbers of the model
// card.
func heldOut(ctx context.Context, net *unet.Net, kind string, held [][]float64, shape operator.Shape, m train.Measured, draws int) ([]heldOutPSNR, error) {
	var out []heldOutPSNR
	tasks := []task.Resolved{{}}
	if kind != "denoiser" {
		tasks = m.Tasks
	}
	data := train.Images{Shape: shape, X: held}
	dst := sdk.NewRows(len(held), shape.Len())
	for _, t := range tasks {
		one := train.Measured{Tasks: []task.Resolved{t}, Labelled: m.Labelled, SigmaY: m.SigmaY}
		for _, sigma := range []float64{0.05, 0.2, 0.5, 1, 2, 5} {
			obj := objectiveOf(kind, data, train.EDM{PMean: math.Log(sigma), SigmaData: 0.5}, one)
			var b train.Batch
			rng := rand.New(rand.NewPCG(uint64(1000*sigma), 77))
			sum, in, n := 0.0, 0.0, 0
			for range draws {
				if err := obj.Draw(&b, len(held), rng); err != nil {
					return nil, err
				}
				if err := net.Denoise(ctx, dst, b.X, b.Cond, b.Sigma, b.Labels); err != nil {
					return nil, err
				}
				for i := range dst {
					p, err := fidelity.PSNR(dst[i], b.Target[i])
					if err != nil {
						return nil, err
					}
					q, err := fidelity.PSNR(b.X[i], b.Target[i])
					if err != nil {
						return nil, err
					}
					sum, in, n = sum+p, in+q, n+1
				}
			}
			out = append(out, heldOutPSNR{Task: t.Name, Sigma: sigma, PSNR: sum / float64(n), Input: in / float64(n), N: n})
		}
	}
	return out, nil
}

func meanTail(x []float64, n int) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	x = x[max(0, len(x)-n):]
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

func readTrainRecord(dir string) (trainRecordFile, error) {
	var r trainRecordFile
	data, err := os.ReadFile(filepath.Join(dir, trainRecord))
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(data, &r)
}

func writeTrainRecord(dir string, r trainRecordFile) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, trainRecord), append(data, '\n'))
}

// lossCurve plots the loss per step and its running mean over 50 steps.
func lossCurve(base, kind string, losses []float64) error {
	raw := plot.Line{Name: "loss per step"}
	avg := plot.Line{Name: "mean of the last 50 steps"}
	s := 0.0
	for i, l := range losses {
		s += l
		if i >= 50 {
			s -= losses[i-50]
		}
		raw.X, raw.Y = append(raw.X, float64(i+1)), append(raw.Y, l)
		avg.X, avg.Y = append(avg.X, float64(i+1)), append(avg.Y, s/float64(min(i+1, 50)))
	}
	// A log scale only when the loss spans more than a decade: gonum labels
	// only the powers of ten on one.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, l := range losses {
		lo, hi = math.Min(lo, l), math.Max(hi, l)
	}
	c := plot.Curves{Title: "training loss (" + kind + ")", XLabel: "step", YLabel: "EDM-weighted loss", Lines: []plot.Line{raw, avg}}
	if lo > 0 && hi/lo > 20 {
		c.LogY, c.YLabel = true, c.YLabel+" (log scale)"
	}
	return c.Save(base)
}

// trainProgress shows the step, the loss and the time left: one line
// redrawn on a terminal, a line every 10 s elsewhere.
type trainProgress struct {
	w            io.Writer
	terminal     bool
	total, first int
	last         time.Time
	avg          float64
	wrote        bool
}

func newTrainProgress(w io.Writer, terminal bool, total, first int) *trainProgress {
	return &trainProgress{w: w, terminal: terminal, total: total, first: first, last: time.Now()}
}

func (p *trainProgress) step(step int, loss float64, elapsed time.Duration) {
	if p.avg == 0 {
		p.avg = loss
	}
	p.avg = 0.98*p.avg + 0.02*loss
	now := time.Now()
	if !p.terminal && now.Sub(p.last) < 10*time.Second && step != p.total {
		return
	}
	p.last = now
	done := step - p.first
	eta := "?"
	if done > 0 {
		eta = (time.Duration(float64(elapsed) / float64(done) * float64(p.total-step))).Round(time.Second).String()
	}
	const width = 30
	bar := "[" + strings.Repeat("#", width*step/p.total) + strings.Repeat(".", width-width*step/p.total) + "]"
	line := fmt.Sprintf("%s step %d/%d  loss %.4f (mean %.4f)  %.2f s/step  ETA %s", bar, step, p.total, loss, p.avg, elapsed.Seconds()/float64(max(done, 1)), eta)
	if p.terminal {
		fmt.Fprintf(p.w, "\r%s", line)
		p.wrote = true
		return
	}
	fmt.Fprintln(p.w, line)
}

func (p *trainProgress) done() {
	if p.wrote {
		fmt.Fprintln(p.w)
	}
}

// card is the model card of a trained network: what it is, what it was
// trained on and how, and how well it denoises held-out images.
func card(r trainRecordFile) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s network (%s)\n\n", r.Kind, r.Weights)
	fmt.Fprintf(&b, "- weights: `%s`, SHA-256 `%s` (format: harness/unet, version %d)\n", r.Weights, r.WeightsSHA, unet.FormatVersion)
	a := r.Architecture
	fmt.Fprintf(&b, "- architecture: EDM-preconditioned UNet, %d×%d px, %d channels, base width %d, levels %v, %d residual block(s) per level, %d GroupNorm groups, %d conditioning channels, %d labels; %d parameters\n",
		a.Resolution, a.Resolution, a.Channels, a.Base, a.Mults, a.Blocks, a.Groups, a.CondChannels, a.Labels, r.Parameters)
	fmt.Fprintf(&b, "- objective: %s\n", r.Objective)
	if r.Init != "" {
		fmt.Fprintf(&b, "- fine-tuned from: `%s`\n", r.Init)
	}
	for _, d := range r.Data {
		fmt.Fprintf(&b, "- data: `%s`, images %d to %d in file-name order (%d images; the first %d are held out), folder SHA-256 `%s`\n", d.Folder, d.Offset+1, d.Offset+d.Images, d.Images, d.Offset, d.Checksum)
	}
	s := r.Settings
	fmt.Fprintf(&b, "- training: %d steps of batch %d, Adam (lr %g, β₁ %g, β₂ %g, %d warm-up steps), weight average with a half-life of %g images (the weights kept), seed %d\n",
		r.Steps, s.Batch, s.LR, s.Beta1, s.Beta2, s.Warmup, s.EMAImages, s.Seed)
	fmt.Fprintf(&b, "- wall time: %.0f s on %s; final loss (mean of the last 100 steps): %.4f\n", r.Seconds, r.Machine, r.FinalLoss)
	if len(r.Command) > 0 {
		fmt.Fprintf(&b, "- command: `%s`\n", strings.Join(r.Command, " "))
	}
	b.WriteString("\n")
	if len(r.HeldOut) > 0 {
		fmt.Fprintf(&b, "Held-out denoising: PSNR (dB, [0, 1] range) of the network's output and of its input, by noise level σ ([-1, 1] units), over %d (held-out image, noise draw) pairs", r.HeldOut[0].N)
		if r.Kind != "denoiser" {
			b.WriteString(" (the input is x_σ for a restorer, the pivot μ* for EPS, at the objective's σ_y)")
		}
		b.WriteString(":\n\n| task | σ | output | input |\n|---|---:|---:|---:|\n")
		for _, h := range r.HeldOut {
			t := h.Task
			if t == "" {
				t = "(denoising)"
			}
			fmt.Fprintf(&b, "| %s | %g | %.2f | %.2f |\n", t, h.Sigma, h.PSNR, h.Input)
		}
	}
	return b.String()
}

// runTrainCard writes card.md again from a training folder's record.
func runTrainCard(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		return badInput("usage: ipbench train card DIR (a folder ipbench train wrote)")
	}
	r, err := readTrainRecord(args[0])
	if err != nil {
		return asInput(err)
	}
	return atomicfile.Write(filepath.Join(args[0], "card.md"), []byte(card(r)))
}
