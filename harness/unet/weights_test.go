package unet

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func saved(t *testing.T, n *Net, meta Meta) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := n.Save(&buf, meta); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestWeightsRoundTrip checks that a saved and loaded network has the same
// config, meta and parameters, bit for bit, and gives bit-identical outputs.
func TestWeightsRoundTrip(t *testing.T) {
	n := perturbed(t, tinyConfig(), 91, 0.2)
	meta := Meta{Kind: "eps", Steps: 1234, Data: "ffhq32", Notes: "test", Extra: map[string]string{"lr": "2e-4"}}
	path := filepath.Join(t.TempDir(), "w.ipbw")
	sum, err := n.SaveFile(path, meta)
	if err != nil {
		t.Fatal(err)
	}
	m, gotMeta, gotSum, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	want := sha256.Sum256(raw)
	if gotSum != sum || gotSum != hex.EncodeToString(want[:]) {
		t.Errorf("checksums: SaveFile %s, LoadFile %s, file %x", sum, gotSum, want)
	}
	if !bytes.Equal(raw, saved(t, n, meta)) {
		t.Error("SaveFile and Save wrote different bytes")
	}
	if !reflect.DeepEqual(gotMeta, meta) {
		t.Errorf("meta %+v, want %+v", gotMeta, meta)
	}
	if err := m.Config().Expect(n.Config()); err != nil {
		t.Error(err)
	}
	for i, p := range m.Params() {
		q := n.Params()[i]
		if p.Name != q.Name || !reflect.DeepEqual(p.Shape, q.Shape) {
			t.Fatalf("parameter %d: %s %v, want %s %v", i, p.Name, p.Shape, q.Name, q.Shape)
		}
		for j := range p.Value {
			if math.Float32bits(p.Value[j]) != math.Float32bits(q.Value[j]) {
				t.Fatalf("%s[%d] = %v, want %v", p.Name, j, p.Value[j], q.Value[j])
			}
		}
	}
	pr := newProblem(n, newRand(92), 3)
	a, b := pr.denoise(t, n), pr.denoise(t, m)
	for i := range a {
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				t.Fatalf("D[%d][%d] = %v after loading, %v before", i, j, b[i][j], a[i][j])
			}
		}
	}
}

// craft builds a weights file from a header and values, with a correct
// checksum.
func craft(version uint32, h header, values []float32) []byte {
	js, _ := json.Marshal(h)
	b := []byte(Magic)
	b = binary.LittleEndian.AppendUint32(b, version)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(js)))
	b = append(b, js...)
	for _, v := range values {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	s := sha256.Sum256(b)
	return append(b, s[:]...)
}

func headerOf(n *Net) (header, []float32) {
	h := header{Architecture: Architecture, Config: n.Config(), Meta: Meta{Kind: "denoiser"}}
	var values []float32
	for _, p := range n.Params() {
		h.Params = append(h.Params, paramShape{Name: p.Name, Shape: p.Shape})
		values = append(values, p.Value...)
	}
	return h, values
}

// TestWeightsErrors checks that each kind of bad file gets an error that
// names its cause.
func TestWeightsErrors(t *testing.T) {
	n := perturbed(t, tinyConfig(), 93, 0.2)
	good := saved(t, n, Meta{Kind: "denoiser"})
	h, values := headerOf(n)
	hl := int(binary.LittleEndian.Uint32(good[8:]))

	// Weights of a network with another architecture, under this header.
	other := tinyConfig()
	other.Mults = []int{1, 1}
	on := perturbed(t, other, 94, 0.2)
	oh, ovalues := headerOf(on)
	mixed := h
	mixed.Params = oh.Params
	// Same sizes as the config's own list, but two tensors swapped.
	swapped := h
	swapped.Params = append([]paramShape(nil), h.Params...)
	swapped.Params[3], swapped.Params[4] = swapped.Params[4], swapped.Params[3]
	badCfg := h
	badCfg.Config.Groups = 3
	badArch := h
	badArch.Architecture = "dit"
	nan := append([]float32(nil), values...)
	nan[10] = float32(math.NaN())

	flip := func(i int) []byte {
		b := append([]byte(nil), good...)
		b[i] ^= 0x10
		return b
	}
	for _, tc := range []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "not an ipbench weights file"},
		{"wrong magic", append([]byte("PK\x03\x04"), good[4:]...), "not an ipbench weights file"},
		{"onnx", []byte("\x08\x07\x12\x07pytorch"), "not an ipbench weights file"},
		{"future version", craft(2, h, values), "unsupported format version 2 (this build reads version 1)"},
		{"truncated prefix", good[:7], "truncated"},
		{"truncated header", good[:prefixLen+hl/2], "truncated"},
		{"truncated values", good[:len(good)-100], "truncated"},
		{"truncated checksum", good[:len(good)-5], "truncated"},
		{"trailing bytes", append(append([]byte(nil), good...), 0), "corrupt"},
		{"flipped value bit", flip(prefixLen + hl + 17), "corrupt: checksum mismatch"},
		{"flipped checksum bit", flip(len(good) - 1), "corrupt: checksum mismatch"},
		{"flipped header byte", flip(prefixLen + 2), "corrupt"},
		{"invalid config", craft(1, badCfg, values), "header config: config Groups: 3 does not divide Base = 4"},
		{"another architecture name", craft(1, badArch, values), `architecture "dit"`},
		{"params of another architecture", craft(1, mixed, ovalues), "weights for another architecture or resolution"},
		{"params in another order", craft(1, swapped, values), "weights for another architecture or resolution: parameter 3"},
		{"NaN weight", craft(1, h, nan), "is NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Load(bytes.NewReader(tc.file))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if !errors.Is(err, ErrFormat) {
				t.Errorf("error %v does not wrap ErrFormat", err)
			}
		})
	}
	if _, _, _, err := LoadFile(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}

// TestWeightsOtherResolution checks that weights trained at one resolution
// load (the network is convolutional) and that a caller expecting another is
// told which field differs.
func TestWeightsOtherResolution(t *testing.T) {
	cfg16 := tinyConfig()
	cfg16.Resolution = 16
	n := perturbed(t, cfg16, 95, 0.1)
	m, _, err := Load(bytes.NewReader(saved(t, n, Meta{})))
	if err != nil {
		t.Fatal(err)
	}
	err = m.Config().Expect(tinyConfig())
	if err == nil || !strings.Contains(err.Error(), "Resolution is 16, want 8") {
		t.Errorf("Expect: %v", err)
	}
	if _, h, _, _ := m.Shape(); h != 16 {
		t.Errorf("loaded network takes %d px", h)
	}
}
