package config

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

const good = `
output: results/x
seed: 7
solvers:
  - name: eps
    nfe: [20, 1, 5]
  - name: dps
    nfe: [100]
    params: {zeta: 0.5}
tasks:
  - name: sr4
  - name: inpaint-box
    params: {box: 64}
datasets:
  - name: faces
    kind: gmm
    means: data/thumbnails
`

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Resolution != 64 || c.Samples != 1 || c.SigmaY != 0.05 || c.Model.Kind != "gmm-exact" {
		t.Errorf("defaults: %+v", c)
	}
	if got := c.Solvers[0].NFE; got[0] != 1 || got[2] != 20 {
		t.Errorf("NFE grid not sorted: %v", got)
	}
	if d := c.Datasets[0]; d.Variance != 0.01 || d.Images != 4 {
		t.Errorf("dataset defaults: %+v", d)
	}
	// The hash ignores the output folder and follows everything else.
	h := c.Hash()
	c.Output = "elsewhere"
	if c.Hash() != h {
		t.Error("hash depends on the output folder")
	}
	c.Seed++
	if c.Hash() == h {
		t.Error("hash ignores the seed")
	}
	c.Seed--
	c.SetSolverDefaults("eps", map[string]float64{"rho": 7})
	if c.Hash() == h || c.Solvers[0].Params["rho"] != 7 {
		t.Error("solver defaults not in the effective config")
	}
	if !strings.Contains(c.YAML(), "rho: 7") {
		t.Errorf("effective YAML lacks the default:\n%s", c.YAML())
	}
}

func TestBadConfigs(t *testing.T) {
	for _, tc := range []struct{ name, edit, want string }{
		{"unknown field", "seed: 7", "seed: 7\nseeds: 3"},
		{"unknown task", "- name: sr4\n", "- name: sr8\n"},
		{"task parameter out of range", "params: {box: 64}", "params: {box: -3}"},
		{"unknown task parameter", "params: {box: 64}", "params: {boxx: 64}"},
		{"sr4 resolution", "seed: 7", "seed: 7\nresolution: 66"},
		{"nfe zero", "nfe: [100]", "nfe: [0]"},
		{"no solvers", "solvers:", "solverz:"},
		{"unknown dataset kind", "kind: gmm", "kind: pictures"},
		{"folder needs a model", "kind: gmm\n    means: data/thumbnails", "kind: folder\n    path: data/thumbnails"},
		{"negative variance", "means: data/thumbnails", "means: data/thumbnails\n    variance: -1"},
		{"unknown model", "seed: 7", "seed: 7\nmodel: {kind: edm-ffhq}"},
		{"sigma_y", "seed: 7", "seed: 7\nsigma_y: -0.1"},
		{"bad pin", "nfe: [100]", "nfe: [100]\n    sha256: abc"},
		{"unknown metric", "seed: 7", "seed: 7\nmetrics: [lpipz]"},
		{"metric twice", "seed: 7", "seed: 7\nmetrics: [psnr, psnr]"},
		{"solver task not in the run", "nfe: [100]", "nfe: [100]\n    tasks: [deblur-gauss]"},
		{"exact with one sample", "seed: 7", "seed: 7\nsamples: 1\nmetrics: [exact]"},
		{"missing feature file", "seed: 7", "seed: 7\nfeatures: {lpips: /nonexistent/lpips.onnx}"},
		{"ssim on tiny images", "seed: 7", "seed: 7\nresolution: 8\nmetrics: [ssim]"},
	} {
		_, err := Parse([]byte(strings.Replace(good, tc.edit, tc.want, 1)))
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		t.Logf("%s: %v", tc.name, err)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"unknown field named", strings.Replace(good, "seed: 7", "seed: 7\nseeds: 3", 1), "seeds"},
		{"task named", strings.Replace(good, "- name: sr4\n", "- name: sr8\n", 1), "sr8"},
		{"resolution named", strings.Replace(good, "seed: 7", "seed: 7\nresolution: 66", 1), "divisible"},
		{"folder explained", strings.Replace(good, "kind: gmm\n    means: data/thumbnails", "kind: folder\n    path: data/thumbnails", 1), "needs a trained model"},
		{"empty", "", "empty"},
		{"metric named", strings.Replace(good, "seed: 7", "seed: 7\nmetrics: [lpipz]", 1), `unknown metric "lpipz" (available: crps, exact, fid, kid, lpips, mmd, mmd_inception, psnr, ssim, sw)`},
		{"feature file named", strings.Replace(good, "seed: 7", "seed: 7\nfeatures: {inception: /nonexistent/i.onnx}", 1), "features: inception: /nonexistent/i.onnx is not a readable file"},
		{"solver task named", strings.Replace(good, "nfe: [100]", "nfe: [100]\n    tasks: [deblur-gauss]", 1), `solvers[1] (dps): tasks: "deblur-gauss" is not one of the run's tasks`},
		{"feature pin", strings.Replace(good, "seed: 7", "seed: 7\nfeatures: {lpips: config_test.go, lpips_sha256: 00}", 1), "not the pinned 00"},
		{"exact needs samples", strings.Replace(good, "seed: 7", "seed: 7\nsamples: 1\nmetrics: [exact]", 1), "needs samples ≥ 2"},
	} {
		_, err := Parse([]byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// A feature network's file is recorded by its SHA-256 in the effective
// configuration, so that another export makes another hash.
func TestFeatureChecksum(t *testing.T) {
	c, err := Parse([]byte(strings.Replace(good, "seed: 7", "seed: 7\nfeatures: {lpips: config_test.go}", 1)))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile("config_test.go")
	sum := sha256.Sum256(data)
	if c.Features.LPIPSSHA256 != hex.EncodeToString(sum[:]) || !strings.Contains(c.YAML(), "lpips_sha256: "+c.Features.LPIPSSHA256) {
		t.Errorf("lpips_sha256 %q, effective config:\n%s", c.Features.LPIPSSHA256, c.YAML())
	}
	d, err := Parse([]byte(strings.Replace(good, "seed: 7", "seed: 7\nfeatures: {lpips: config.go}", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if d.Hash() == c.Hash() {
		t.Error("another LPIPS file, the same hash")
	}
}

func TestModelFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := dir + "/" + name
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	den, eps, onnx := write("d.ipbw", "weights"), write("e.ipbw", "eps"), write("d.onnx", "graph")
	folder := strings.Replace(good, "kind: gmm\n    means: data/thumbnails", "kind: folder\n    path: "+dir, 1)
	sum := sha256.Sum256([]byte("weights"))
	c, err := Parse([]byte(folder + "model: {kind: network, denoiser: " + den + ", eps: " + eps + "}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Model.SHA256["denoiser"] != hex.EncodeToString(sum[:]) || len(c.Model.SHA256) != 2 {
		t.Errorf("checksums %v", c.Model.SHA256)
	}
	if c.Model.Provider != "" {
		t.Errorf("a network has provider %q", c.Model.Provider)
	}
	if c, err := Parse([]byte(folder + "model: {kind: onnx, denoiser: " + onnx + "}\n")); err != nil || c.Model.Provider != "auto" {
		t.Errorf("onnx model: %v, provider %q", err, c.Model.Provider)
	}
	for _, tc := range []struct {
		text, want string
	}{
		{good + "model: {kind: network, denoiser: " + den + "}\n", "a mixture's ground truths need no network"},
		{folder, "a folder of real images needs a trained model"},
		{folder + "model: {kind: gmm-exact, denoiser: " + den + "}\n", "kind gmm-exact takes no files"},
		{folder + "model: {kind: torch}\n", `unknown kind "torch"`},
		{folder + "model: {kind: network}\n", "kind network needs denoiser"},
		{folder + "model: {kind: network, denoiser: " + onnx + "}\n", "is not a .ipbw file, which kind network takes"},
		{folder + "model: {kind: onnx, denoiser: " + den + "}\n", "is not a .onnx file"},
		{folder + "model: {kind: network, denoiser: " + dir + "/none.ipbw}\n", "none.ipbw is not a readable file"},
		{folder + "model: {kind: network, denoiser: " + den + ", sha256: {denoiser: abc}}\n", "not the pinned abc"},
		{folder + "model: {kind: network, denoiser: " + den + ", sha256: {eps: abc}}\n", "sha256 for eps, which the model does not name"},
		{folder + "model: {kind: network, denoiser: " + den + ", provider: cuda}\n", "are for kind onnx"},
		{folder + "model: {kind: onnx, denoiser: " + onnx + ", provider: tpu}\n", `provider "tpu"`},
		{folder + "model: {kind: onnx, denoiser: " + onnx + ", eps_task: sr4}\n", "eps_task or restorer_task without its network"},
	} {
		_, err := Parse([]byte(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want an error saying %q", err, tc.want)
		}
	}
}

// Kind plugin: an executable with arguments and files by role, each file
// checksummed (the executable under "plugin") and passed as --ROLE PATH.
func TestModelPlugin(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := dir + "/" + name
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	exe, weights, net := write("ipbench-model-x", "#!/bin/sh\n"), write("w.pt", "weights"), write("net.py", "class Net: pass\n")
	folder := strings.Replace(good, "kind: gmm\n    means: data/thumbnails", "kind: folder\n    path: "+dir, 1)
	c, err := Parse([]byte(folder + "model: {kind: plugin, plugin: " + exe + ", args: [--class, Net], files: {weights: " + weights + ", module: " + net + "}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("weights"))
	if c.Model.SHA256["weights"] != hex.EncodeToString(sum[:]) || len(c.Model.SHA256) != 3 || c.Model.SHA256["plugin"] == "" {
		t.Errorf("checksums %v", c.Model.SHA256)
	}
	if got, want := strings.Join(c.Model.PluginArgs(), " "), "--class Net --module "+net+" --weights "+weights; got != want {
		t.Errorf("arguments %q, want %q", got, want)
	}
	pin := folder + "model: {kind: plugin, plugin: " + exe + ", sha256: {plugin: 00}}\n"
	for _, tc := range []struct {
		text, want string
	}{
		{folder + "model: {kind: plugin}\n", "kind plugin needs plugin"},
		{folder + "model: {kind: plugin, plugin: " + exe + ", denoiser: " + weights + "}\n", "kind plugin takes plugin, args and files"},
		{folder + "model: {kind: plugin, plugin: " + exe + ", files: {Weights: " + weights + "}}\n", `role "Weights"`},
		{folder + "model: {kind: plugin, plugin: " + exe + ", files: {plugin: " + weights + "}}\n", `role "plugin"`},
		{folder + "model: {kind: plugin, plugin: " + dir + "/none}\n", "none is not a readable file"},
		{folder + "model: {kind: plugin, plugin: " + exe + ", files: {weights: " + dir + "/none.pt}}\n", "weights: " + dir + "/none.pt is not a readable file"},
		{pin, "not the pinned 00"},
		{folder + "model: {kind: network, denoiser: " + write("d.ipbw", "x") + ", args: [--x]}\n", "plugin, args and files are for kind plugin, not network"},
		{good + "model: {kind: gmm-exact, args: [--x]}\n", "kind gmm-exact takes no files"},
		{good + "model: {kind: plugin, plugin: " + exe + "}\n", "a mixture's ground truths need no network"},
	} {
		_, err := Parse([]byte(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want an error saying %q", err, tc.want)
		}
	}
}
