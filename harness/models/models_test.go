package models

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipbench/ipbench/harness/config"
	"github.com/ipbench/ipbench/harness/netmodel"
	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/harness/unet"
	"github.com/ipbench/ipbench/internal/onnxrt"
)

func tinyConfig(res, cond, labels int) unet.Config {
	return unet.Config{Resolution: res, Channels: 3, CondChannels: cond, Labels: labels, Base: 4, Mults: []int{1, 2}, Blocks: 1, Groups: 2, SigmaData: 0.5}
}

func save(t *testing.T, dir, name string, cfg unet.Config, meta unet.Meta) string {
	t.Helper()
	n, err := unet.New(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if _, err := n.SaveFile(p, meta); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOpenNetwork(t *testing.T) {
	dir := t.TempDir()
	shape := operator.Shape{C: 3, H: 8, W: 8}
	den := save(t, dir, "d.ipbw", tinyConfig(8, 0, 0), unet.Meta{Kind: "denoiser"})
	eps := save(t, dir, "e.ipbw", tinyConfig(8, 6, len(netmodel.Tasks)), unet.Meta{Kind: "eps"})
	rest := save(t, dir, "r.ipbw", tinyConfig(8, 6, 0), unet.Meta{Kind: "restorer", Extra: map[string]string{"task": "sr4"}})
	m, closer, err := Open(config.Model{Kind: "network", Denoiser: den, EPS: eps, Restorer: rest}, shape)
	if err != nil {
		t.Fatal(err)
	}
	defer closer()
	if !m.HasVJP() || !m.Serves("eps", "deblur-motion") || !m.Serves("restorer", "sr4") || m.Serves("restorer", "inpaint-box") {
		t.Errorf("model %+v: VJP %v", m, m.HasVJP())
	}

	untasked := save(t, dir, "u.ipbw", tinyConfig(8, 6, 0), unet.Meta{Kind: "restorer"})
	big := save(t, dir, "big.ipbw", tinyConfig(16, 0, 0), unet.Meta{Kind: "denoiser"})
	data, _ := os.ReadFile(den)
	trunc := filepath.Join(dir, "t.ipbw")
	os.WriteFile(trunc, data[:len(data)/2], 0o644)
	for _, tc := range []struct {
		c    config.Model
		want string
	}{
		{config.Model{Kind: "network", Denoiser: eps}, `e.ipbw is a "eps" network (its header says so), not a denoiser`},
		{config.Model{Kind: "network", Denoiser: big}, "takes 3×16×16 images; the run's are 3×8×8"},
		{config.Model{Kind: "network", Denoiser: trunc}, "model: denoiser"},
		{config.Model{Kind: "network", Denoiser: den, Restorer: untasked}, "header names no task"},
	} {
		_, _, err := Open(tc.c, shape)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want an error saying %q", err, tc.want)
		}
	}
}

func TestOpenONNX(t *testing.T) {
	if _, err := onnxrt.Library(); err != nil || !onnxrt.HaveCgo {
		t.Skipf("ONNX Runtime not available: %v", err)
	}
	td := "../onnxmodel/testdata/"
	shape := operator.Shape{C: 2, H: 3, W: 4}
	m, closer, err := Open(config.Model{Kind: "onnx", Denoiser: td + "gauss.onnx", DenoiserVJP: td + "gauss_vjp.onnx", Provider: "cpu"}, shape)
	if err != nil {
		t.Fatal(err)
	}
	closer()
	if !m.HasVJP() {
		t.Error("no VJP with a VJP graph")
	}
	m, closer, err = Open(config.Model{Kind: "onnx", Denoiser: td + "gauss.onnx", Provider: "cpu"}, shape)
	if err != nil {
		t.Fatal(err)
	}
	closer()
	if m.HasVJP() {
		t.Error("a VJP without a VJP graph")
	}
	// eps.onnx takes C = 2 conditioning channels; an EPS network takes
	// netmodel.Condition's 2C = 4.
	if _, _, err := Open(config.Model{Kind: "onnx", Denoiser: td + "gauss.onnx", EPS: td + "eps.onnx", EPSTask: "sr4", Provider: "cpu"}, shape); err == nil || !strings.Contains(err.Error(), "model: EPS") {
		t.Errorf("EPS network with the wrong conditioning: %v", err)
	}
	if _, _, err := Open(config.Model{Kind: "onnx", Denoiser: td + "gauss.onnx", Provider: "cpu"}, operator.Shape{C: 3, H: 3, W: 4}); err == nil {
		t.Error("a 2-channel model opened for 3-channel images")
	}
}
