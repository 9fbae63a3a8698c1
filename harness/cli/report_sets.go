package cli

import (
	"context"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/ipbench/ipbench/harness/config"
	"github.com/ipbench/ipbench/harness/dataset"
	"github.com/ipbench/ipbench/harness/operator"
	benchrun "github.com/ipbench/ipbench/harness/run"
	"github.com/ipbench/ipbench/harness/seed"
	"github.com/ipbench/ipbench/harness/store"
	"github.com/ipbench/ipbench/metrics/distribution"
	"github.com/ipbench/ipbench/metrics/features"
	"github.com/ipbench/ipbench/metrics/sliced"
	"github.com/ipbench/ipbench/plugins/sdk"
	"github.com/ipbench/ipbench/reports/html"
	"github.com/ipbench/ipbench/reports/summary"
)

// setScores holds the scores of whole sets by group ("dataset/task/solver/nfe").
type setScores map[string]map[string]float64

func groupKey(g summary.Group) string { return setKey(g.Dataset, g.Task, g.Solver, g.NFE) }

func setKey(dataset, task, solver string, nfe int) string {
	return fmt.Sprintf("%s/%s/%s/%d", dataset, task, solver, nfe)
}

// MMDImages caps the images of a set that MMD compares: its cost grows as
// the square of their number (500 images of 64 px: about 1 s).
const MMDImages = 500

// rebuilt is the plan of a recorded configuration, made again to recover
// the ground truths and measurements (they follow from the seed alone).
type rebuilt struct {
	plan     *benchrun.Plan
	datasets map[string]*benchrun.Dataset
}

func rebuild(cfg *config.Config) (*rebuilt, error) {
	p, err := benchrun.NewPlan(cfg)
	if err != nil {
		return nil, err
	}
	rb := &rebuilt{plan: p, datasets: map[string]*benchrun.Dataset{}}
	for _, d := range p.Datasets {
		rb.datasets[d.Name] = d
	}
	return rb, nil
}

// computeSets scores each group's set of samples against the set of its
// ground truths: sample 0 of every image, as an 8-bit image read from its
// PNG, against the image's truth quantized the same way. mmd is MMD² with
// the median-heuristic Gaussian kernel over the first MMDImages images; sw
// is the sliced Wasserstein distance (200 directions, the same for every
// set of the report); fid, kid and mmd_inception (MMD² as mmd, on the
// features) run the
// configured Inception export (pool3) on the images mapped to [0, 1] and
// resized to 299×299, KID over 100 subsets of min(1000, n) images.
func computeSets(ctx context.Context, cfg *config.Config, rb *rebuilt, dir string, rows []store.Row) (setScores, error) {
	var want []string
	for _, m := range cfg.Metrics {
		if mt := config.Metrics[m]; !mt.PerSample && (mt.Needs != "inception" || cfg.Features.Inception != "") {
			want = append(want, m)
		}
	}
	out := setScores{}
	if len(want) == 0 {
		return out, nil
	}
	shape := cfg.Shape()
	type set struct {
		key    string
		images []string
		paths  []string
	}
	byKey := map[string]*set{}
	var order []string
	for _, r := range rows {
		if r.Status != store.StatusOK || r.Sample != 0 || r.Output == "" {
			continue
		}
		k := setKey(r.Dataset, r.Task, r.Solver, r.NFE)
		s := byKey[k]
		if s == nil {
			s = &set{key: k}
			byKey[k] = s
			order = append(order, k)
		}
		s.images = append(s.images, r.Dataset+"\x00"+r.Image)
		s.paths = append(s.paths, filepath.Join(dir, r.Output))
	}
	var inception *features.Inception
	if slices.Contains(want, "fid") || slices.Contains(want, "kid") || slices.Contains(want, "mmd_inception") {
		var err error
		if inception, err = features.OpenInception(cfg.Features.Inception, 0); err != nil {
			return nil, fmt.Errorf("metric fid/kid: %w", err)
		}
		defer inception.Close()
	}
	truthFeat := map[string][]float64{}
	var dirs [][]float64 // of sw, drawn once: the same directions for every set
	feats := func(imgs [][]float64) ([][]float64, error) {
		in := make([][]float64, len(imgs))
		for i, x := range imgs {
			v, err := features.InceptionImage(x, shape.H, shape.W)
			if err != nil {
				return nil, err
			}
			in[i] = v
		}
		f := make([][]float64, len(imgs))
		for i := range f {
			f[i] = make([]float64, features.InceptionDim)
		}
		return f, inception.Features(f, in)
	}
	for _, k := range order {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s := byKey[k]
		idx := make([]int, len(s.images))
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(a, b int) bool { return s.images[idx[a]] < s.images[idx[b]] })
		samples, truths := make([][]float64, len(idx)), make([][]float64, len(idx))
		errs := make([]error, len(idx))
		sdk.ParallelRows(len(idx), func(j int) { samples[j], errs[j] = dataset.ReadPNG(s.paths[idx[j]], shape) })
		for j, i := range idx {
			if errs[j] != nil {
				return nil, fmt.Errorf("set scores of %s: %w", k, errs[j])
			}
			ds, img, _ := strings.Cut(s.images[i], "\x00")
			d := rb.datasets[ds]
			if d == nil || d.Truth[img] == nil {
				return nil, fmt.Errorf("set scores of %s: the configuration has no image %s in dataset %s", k, img, ds)
			}
			truths[j] = dataset.Quantized(d.Truth[img])
		}
		if len(samples) < 2 {
			continue // one image: no set to score
		}
		// The Inception features of the set, once for fid, kid and
		// mmd_inception; a truth's features once for every set it is in.
		var fs, ft [][]float64
		if inception != nil {
			var err error
			if fs, err = feats(samples); err != nil {
				return nil, fmt.Errorf("inception features of %s: %w", k, err)
			}
			ft = make([][]float64, len(idx))
			var todo [][]float64
			var todoAt []int
			for j, i := range idx {
				if f, ok := truthFeat[s.images[i]]; ok {
					ft[j] = f
				} else {
					todo, todoAt = append(todo, truths[j]), append(todoAt, j)
				}
			}
			if len(todo) > 0 {
				f, err := feats(todo)
				if err != nil {
					return nil, fmt.Errorf("inception features of %s: %w", k, err)
				}
				for t, j := range todoAt {
					ft[j] = f[t]
					truthFeat[s.images[idx[j]]] = f[t]
				}
			}
		}
		sc := map[string]float64{}
		for _, m := range want {
			switch m {
			case "mmd":
				n := min(len(samples), MMDImages)
				v, _, err := distribution.MMD2GaussianMedian(samples[:n], truths[:n])
				if err != nil {
					return nil, fmt.Errorf("metric mmd of %s: %w", k, err)
				}
				sc["mmd"] = v
			case "sw":
				if dirs == nil {
					dirs = sliced.Directions(200, shape.Len(), seed.Stream(cfg.Seed, "set-sw", "", 0))
				}
				ps, err := sliced.Project(samples, dirs)
				if err != nil {
					return nil, fmt.Errorf("metric sw of %s: %w", k, err)
				}
				pt, err := sliced.Project(truths, dirs)
				if err != nil {
					return nil, fmt.Errorf("metric sw of %s: %w", k, err)
				}
				v, err := sliced.DistanceProjected(ps, pt)
				if err != nil {
					return nil, fmt.Errorf("metric sw of %s: %w", k, err)
				}
				sc["sw"] = v
			case "fid":
				v, err := distribution.Frechet(fs, ft)
				if err != nil {
					return nil, fmt.Errorf("metric fid of %s: %w", k, err)
				}
				sc["fid"] = v
			case "mmd_inception":
				n := min(len(fs), MMDImages)
				v, _, err := distribution.MMD2GaussianMedian(fs[:n], ft[:n])
				if err != nil {
					return nil, fmt.Errorf("metric mmd_inception of %s: %w", k, err)
				}
				sc["mmd_inception"] = v
			case "kid":
				n := min(1000, len(fs))
				mean, sd, err := distribution.KID(fs, ft, 100, n, rand.New(rand.NewPCG(cfg.Seed, 7)))
				if err != nil {
					return nil, fmt.Errorf("metric kid of %s: %w", k, err)
				}
				sc["kid"], sc["kid_sd"] = mean, sd
			}
		}
		out[k] = sc
	}
	return out, nil
}

// gridImages is how many images a section's grid shows.
const gridImages = 4

// imageGrid returns a section's grid: for its first images, the truth, the
// measurement and sample 0 of each solver at its largest NFE with a sample.
func imageGrid(rb *rebuilt, dir string, rows []store.Row, s section) (*html.Grid, error) {
	d := rb.datasets[s.dataset]
	if d == nil {
		return nil, nil
	}
	shape := rb.plan.Config.Shape()
	var solvers []string
	top := map[string]int{}
	for _, g := range s.groups {
		if g.OK == 0 {
			continue
		}
		if !slices.Contains(solvers, g.Solver) {
			solvers = append(solvers, g.Solver)
		}
		top[g.Solver] = max(top[g.Solver], g.NFE)
	}
	path := map[string]string{}
	for _, r := range rows {
		if r.Dataset == s.dataset && r.Task == s.task && r.Sample == 0 && r.Status == store.StatusOK && r.NFE == top[r.Solver] {
			path[r.Solver+"\x00"+r.Image] = filepath.Join(dir, r.Output)
		}
	}
	g := &html.Grid{Columns: []string{"truth", "measurement"}, Caption: fmt.Sprintf("the first %d images: truth, measurement (y, or Aᵀy for masks), and sample 0 of each solver at its largest NFE", gridImages)}
	for _, sv := range solvers {
		g.Columns = append(g.Columns, fmt.Sprintf("%s NFE %d", sv, top[sv]))
	}
	for _, id := range d.IDs[:min(gridImages, len(d.IDs))] {
		row := html.GridRow{Label: id}
		truth, err := dataset.ToImage(shape, d.Truth[id])
		if err != nil {
			return nil, err
		}
		row.Images = append(row.Images, truth)
		op, y, err := rb.plan.Measurement(d, id, s.task)
		if err != nil {
			return nil, err
		}
		row.Images = append(row.Images, measurementImage(op, y, shape))
		for _, sv := range solvers {
			p, ok := path[sv+"\x00"+id]
			if !ok {
				row.Images = append(row.Images, nil)
				continue
			}
			x, err := dataset.ReadPNG(p, shape)
			if err != nil {
				return nil, err
			}
			img, err := dataset.ToImage(shape, x)
			if err != nil {
				return nil, err
			}
			row.Images = append(row.Images, img)
		}
		g.Rows = append(g.Rows, row)
	}
	return g, nil
}

// measurementImage shows y as a picture: a mask's observed pixels in place
// (Aᵀy, missing ones at 0, mid-grey), a blur's y as it is, a downsampled
// y at its own size; nil when y is not image-shaped.
func measurementImage(op operator.Operator, y []float64, shape operator.Shape) image.Image {
	m, d := op.Dims()
	if _, ok := op.(*operator.Mask); ok {
		x := make([]float64, d)
		op.Adjoint(x, y)
		img, _ := dataset.ToImage(shape, x)
		return img
	}
	if m == d {
		img, _ := dataset.ToImage(shape, y)
		return img
	}
	side := int(math.Round(math.Sqrt(float64(m / shape.C))))
	if m%shape.C != 0 || side*side*shape.C != m {
		return nil
	}
	img, _ := dataset.ToImage(operator.Shape{C: shape.C, H: side, W: side}, y)
	return img
}
