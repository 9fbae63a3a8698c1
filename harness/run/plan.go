// Package run executes a benchmark configuration: it builds the plan
// (dataset × image × task × solver × NFE, each a batch of the image's
// samples), takes this shard's part of it, skips what the record already
// holds, and runs the rest through the solver plugins, writing every batch
// to the record in one transaction.
package run

import (
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/ipbench/ipbench/harness/config"
	"github.com/ipbench/ipbench/harness/dataset"
	"github.com/ipbench/ipbench/harness/gmm"
	"github.com/ipbench/ipbench/harness/netmodel"
	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/harness/seed"
	"github.com/ipbench/ipbench/harness/store"
	"github.com/ipbench/ipbench/harness/task"
)

// Batch is one unit of work: every sample of one image for one task,
// solver and NFE. Its samples share the measurement.
type Batch struct {
	Dataset, Image, Task, Solver string
	NFE                          int
}

// Keys returns the record keys of the batch's samples.
func (b Batch) Keys(samples int) []store.Key {
	k := make([]store.Key, samples)
	for i := range k {
		k[i] = store.Key{Solver: b.Solver, Task: b.Task, Dataset: b.Dataset, Image: b.Image, NFE: b.NFE, Sample: i}
	}
	return k
}

// Shard is this process's part of the plan: batch i belongs to shard
// K when i mod N = K − 1.
type Shard struct{ K, N int }

// ParseShard reads "k/N".
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{1, 1}, nil
	}
	var sh Shard
	if _, err := fmt.Sscanf(s, "%d/%d", &sh.K, &sh.N); err != nil || sh.N < 1 || sh.K < 1 || sh.K > sh.N {
		return Shard{}, fmt.Errorf("--shard %q: want k/N with 1 ≤ k ≤ N", s)
	}
	return sh, nil
}

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.K, s.N) }

// Plan is the whole work of a configuration, in a fixed order.
type Plan struct {
	Config   *config.Config
	Datasets []*Dataset
	Batches  []Batch
	// Net is the model of kind network, onnx or plugin, opened by the
	// caller (harness/models); nil for gmm-exact.
	Net netmodel.Binder
}

// Mine returns the batches of shard s, in plan order.
func (p *Plan) Mine(s Shard) []Batch {
	var out []Batch
	for i, b := range p.Batches {
		if i%s.N == s.K-1 {
			out = append(out, b)
		}
	}
	return out
}

// Dataset is a loaded dataset: its ground-truth images and, for a mixture,
// its prior.
type Dataset struct {
	Name     string
	Prior    *gmm.Mixture // the mixture of a gmm dataset; nil for a folder
	IDs      []string
	Truth    map[string][]float64
	Checksum string // of the inputs that make the images
}

// NewPlan loads the datasets (every image is decoded here, so a bad one is
// an error before any work) and lists the batches.
func NewPlan(c *config.Config) (*Plan, error) {
	p := &Plan{Config: c}
	shape := c.Shape()
	for _, dc := range c.Datasets {
		d, err := loadDataset(c, dc, shape)
		if err != nil {
			return nil, err
		}
		p.Datasets = append(p.Datasets, d)
		for _, id := range d.IDs {
			for _, t := range c.Tasks {
				for _, s := range c.Solvers {
					if !s.RunsOn(t.Name) {
						continue
					}
					for _, n := range s.NFE {
						p.Batches = append(p.Batches, Batch{Dataset: d.Name, Image: id, Task: t.Name, Solver: s.Name, NFE: n})
					}
				}
			}
		}
	}
	return p, nil
}

func loadDataset(c *config.Config, dc config.Dataset, shape operator.Shape) (*Dataset, error) {
	d := &Dataset{Name: dc.Name, Truth: map[string][]float64{}}
	if dc.Kind == "folder" {
		// The ground truths are the folder's images.
		imgs, sum, err := readFolder(c, dc, dc.Path)
		if err != nil {
			return nil, fmt.Errorf("dataset %s: %w", dc.Name, err)
		}
		for _, img := range imgs {
			d.IDs = append(d.IDs, img.ID)
			d.Truth[img.ID] = img.Pixels
		}
		d.Checksum = sum
		return d, nil
	}
	var means [][]float64
	if dc.Means != "" {
		imgs, sum, err := readFolder(c, dc, dc.Means)
		if err != nil {
			return nil, fmt.Errorf("dataset %s: means: %w", dc.Name, err)
		}
		for _, img := range imgs {
			means = append(means, img.Pixels)
		}
		d.Checksum = sum
	} else {
		means = gmm.SyntheticImages(shape, dc.Components, seed.Of(c.Seed, "gmm-means", dc.Name, 0).Rand())
		d.Checksum = fmt.Sprintf("synthetic:%d", dc.Components)
	}
	prior, err := gmm.NewImagePrior(shape, means, dc.Variance)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", dc.Name, err)
	}
	d.Prior = prior
	for i := 0; i < dc.Images; i++ {
		id := fmt.Sprintf("img%04d", i)
		x0 := make([]float64, shape.Len())
		prior.Sample(x0, seed.Of(c.Seed, "gmm-truth/"+dc.Name, id, 0).Rand())
		d.IDs = append(d.IDs, id)
		d.Truth[id] = x0
	}
	sort.Strings(d.IDs)
	return d, nil
}

// readFolder reads every selected image of a folder (the dataset's offset
// and limit, at the run's resolution) and returns them with the folder's
// checksum.
func readFolder(c *config.Config, dc config.Dataset, path string) ([]dataset.Image, string, error) {
	f, err := dataset.OpenFolder(path, dataset.FolderOptions{Size: c.Resolution, Offset: dc.Offset, Limit: dc.Limit})
	if err != nil {
		return nil, "", err
	}
	imgs, err := f.LoadAll()
	if err != nil {
		return nil, "", err
	}
	return imgs, f.Checksum(), nil
}

// Measurement returns the operator and y of one image and task: the task's
// per-image randomness and the noise come from a stream of (run seed,
// dataset, image, task) only, so every solver and NFE sees the same y.
func (p *Plan) Measurement(d *Dataset, image, taskName string) (operator.Operator, []float64, error) {
	c := p.Config
	var spec task.Spec
	for _, t := range c.Tasks {
		if t.Name == taskName {
			spec = task.Spec{Name: t.Name, Params: t.Params}
		}
	}
	r, err := task.Resolve(spec, c.Shape())
	if err != nil {
		return nil, nil, err
	}
	rng := seed.Of(c.Seed, "measurement/"+d.Name+"/"+taskName, image, 0).Rand()
	op, err := task.Build(r, c.Shape(), rng)
	if err != nil {
		return nil, nil, err
	}
	m, _ := op.Dims()
	y := make([]float64, m)
	op.Apply(y, d.Truth[image])
	addNoise(y, c.SigmaY, rng)
	return op, y, nil
}

func addNoise(y []float64, sigma float64, rng *rand.Rand) {
	for i := range y {
		y[i] += sigma * rng.NormFloat64()
	}
}
