package train

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"

	"github.com/ipbench/ipbench/harness/atomicfile"
)

// Checkpoint file format, version 1 (little endian throughout):
//
//	"IPBC"                 magic
//	uint32                 format version (1)
//	uint32                 header length h
//	h bytes                JSON header: settings, step, the parameters'
//	                       names and sizes, the example stream's state,
//	                       the number of losses
//	per parameter, in header order: value, Adam m, Adam v, average,
//	                       each as float32 values
//	losses                 float64 values
//	32 bytes               SHA-256 of everything before it
//
// A file is written whole to a temporary name and renamed (a crash leaves
// the previous checkpoint), and read back only if its checksum holds.
const (
	ckptMagic   = "IPBC"
	ckptVersion = 1
)

type ckptHeader struct {
	Settings Settings    `json:"settings"`
	Step     int         `json:"step"`
	Params   []ckptParam `json:"params"`
	RNG      []byte      `json:"rng"`
	Losses   int         `json:"losses"`
}

type ckptParam struct {
	Name string `json:"name"`
	N    int    `json:"n"`
}

// SaveCheckpoint writes the run's state, with the parameters' current
// values, to path.
func SaveCheckpoint(path string, params []Param, st *State, s Settings) error {
	if err := st.fits(params); err != nil {
		return err
	}
	rng, err := st.RNG.MarshalBinary()
	if err != nil {
		return err
	}
	h := ckptHeader{Settings: s, Step: st.Step, RNG: rng, Losses: len(st.Losses)}
	for _, p := range params {
		h.Params = append(h.Params, ckptParam{Name: p.Name, N: len(p.Value)})
	}
	hdr, err := json.Marshal(h)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.WriteString(ckptMagic)
	binary.Write(&buf, binary.LittleEndian, uint32(ckptVersion))
	binary.Write(&buf, binary.LittleEndian, uint32(len(hdr)))
	buf.Write(hdr)
	for i, p := range params {
		for _, t := range [][]float32{p.Value, st.M[i], st.V[i], st.EMA[i]} {
			binary.Write(&buf, binary.LittleEndian, t)
		}
	}
	binary.Write(&buf, binary.LittleEndian, st.Losses)
	sum := sha256.Sum256(buf.Bytes())
	buf.Write(sum[:])
	return atomicfile.Write(path, buf.Bytes())
}

// LoadCheckpoint reads the checkpoint at path into the parameters' values
// and returns the run's state and settings. The parameters must be the
// ones the checkpoint was written from (same names and sizes, in order).
func LoadCheckpoint(path string, params []Param) (*State, Settings, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Settings{}, err
	}
	st, s, err := decodeCheckpoint(data, params)
	if err != nil {
		return nil, Settings{}, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return st, s, nil
}

func decodeCheckpoint(data []byte, params []Param) (*State, Settings, error) {
	var s Settings
	if len(data) < 12 || string(data[:4]) != ckptMagic {
		return nil, s, fmt.Errorf("not an ipbench checkpoint (no %q magic)", ckptMagic)
	}
	if v := binary.LittleEndian.Uint32(data[4:]); v != ckptVersion {
		return nil, s, fmt.Errorf("format version %d, this ipbench reads version %d", v, ckptVersion)
	}
	if len(data) < 12+sha256.Size {
		return nil, s, fmt.Errorf("truncated: %d bytes", len(data))
	}
	body, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return nil, s, fmt.Errorf("checksum mismatch: the file is corrupt or truncated")
	}
	hl := int(binary.LittleEndian.Uint32(data[8:]))
	if hl > len(body)-12 {
		return nil, s, fmt.Errorf("header of %d bytes in a body of %d", hl, len(body)-12)
	}
	var h ckptHeader
	if err := json.Unmarshal(body[12:12+hl], &h); err != nil {
		return nil, s, fmt.Errorf("header: %w", err)
	}
	if len(h.Params) != len(params) {
		return nil, s, fmt.Errorf("%d parameter tensors, the network has %d (another architecture?)", len(h.Params), len(params))
	}
	size := 0
	for i, p := range params {
		if h.Params[i].Name != p.Name || h.Params[i].N != len(p.Value) {
			return nil, s, fmt.Errorf("parameter %d is %s with %d values, the network's is %s with %d (another architecture?)", i, h.Params[i].Name, h.Params[i].N, p.Name, len(p.Value))
		}
		size += 4 * 4 * len(p.Value)
	}
	if h.Losses < 0 || h.Step < 0 {
		return nil, s, fmt.Errorf("header: step %d, %d losses", h.Step, h.Losses)
	}
	payload := body[12+hl:]
	if len(payload) != size+8*h.Losses {
		return nil, s, fmt.Errorf("payload of %d bytes, the header describes %d", len(payload), size+8*h.Losses)
	}
	st := &State{Step: h.Step, RNG: &rand.PCG{}}
	if err := st.RNG.UnmarshalBinary(h.RNG); err != nil {
		return nil, s, fmt.Errorf("example stream state: %w", err)
	}
	r := bytes.NewReader(payload)
	for _, p := range params {
		n := len(p.Value)
		m, v, e := make([]float32, n), make([]float32, n), make([]float32, n)
		for _, t := range [][]float32{p.Value, m, v, e} {
			binary.Read(r, binary.LittleEndian, t)
		}
		st.M, st.V, st.EMA = append(st.M, m), append(st.V, v), append(st.EMA, e)
	}
	st.Losses = make([]float64, h.Losses)
	binary.Read(r, binary.LittleEndian, st.Losses)
	for _, l := range st.Losses {
		if math.IsNaN(l) {
			return nil, s, fmt.Errorf("a recorded loss is NaN")
		}
	}
	return st, h.Settings, nil
}

// Resume checks that a run with settings s may go on from a checkpoint
// made with settings c: everything but Steps must agree.
func Resume(c, s Settings) error {
	c.Steps = s.Steps
	if c != s {
		return fmt.Errorf("%w: %+v, now %+v", ErrSettings, c, s)
	}
	return nil
}
