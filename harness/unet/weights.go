package unet

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/ipbench/ipbench/harness/atomicfile"
)

// Magic and FormatVersion open every weights file.
const (
	Magic         = "IPBW"
	FormatVersion = 1
)

// Architecture is the header's architecture field for this package's network.
const Architecture = "unet"

// Meta is free-form provenance stored in a weights file's header.
type Meta struct {
	Kind  string            `json:"kind,omitempty"`  // "denoiser", "eps", "restorer", …
	Steps int64             `json:"steps,omitempty"` // training steps taken
	Data  string            `json:"data,omitempty"`  // what it was trained on
	Notes string            `json:"notes,omitempty"` // anything else
	Extra map[string]string `json:"extra,omitempty"`
}

// header is the JSON header of a weights file.
type header struct {
	Architecture string       `json:"architecture"`
	Config       Config       `json:"config"`
	Params       []paramShape `json:"params"`
	Meta         Meta         `json:"meta"`
}

type paramShape struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

const (
	prefixLen = len(Magic) + 4 + 4 // magic, version, header length
	sumLen    = sha256.Size
	maxHeader = 16 << 20
)

// Save writes the network's weights and meta to w in the format described in
// the package documentation.
func (n *Net) Save(w io.Writer, meta Meta) error {
	b, err := n.encode(meta)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// SaveFile writes the weights to path atomically (a temporary file renamed
// into place) and returns the file's SHA-256 in hex.
func (n *Net) SaveFile(path string, meta Meta) (string, error) {
	b, err := n.encode(meta)
	if err != nil {
		return "", err
	}
	if err := atomicfile.Write(path, b); err != nil {
		return "", fmt.Errorf("unet: saving weights: %w", err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}

func (n *Net) encode(meta Meta) ([]byte, error) {
	h := header{Architecture: Architecture, Config: n.Config(), Meta: meta}
	for _, p := range n.params {
		h.Params = append(h.Params, paramShape{Name: p.Name, Shape: slices.Clone(p.Shape)})
	}
	js, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("unet: encoding the weights header: %w", err)
	}
	b := make([]byte, 0, prefixLen+len(js)+4*n.NumParams()+sumLen)
	b = append(b, Magic...)
	b = binary.LittleEndian.AppendUint32(b, FormatVersion)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(js)))
	b = append(b, js...)
	for _, p := range n.params {
		for _, v := range p.Value {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	}
	s := sha256.Sum256(b)
	return append(b, s[:]...), nil
}

// Load reads a weights file and returns the network it describes and its
// Meta. It fails, saying why, on a file that is not a weights file, has an
// unsupported version, is truncated or corrupt (checksum mismatch), has an
// invalid config, or whose parameters are not those its config builds.
func Load(r io.Reader) (*Net, Meta, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, Meta{}, fmt.Errorf("unet: reading weights: %w", err)
	}
	return decode(b)
}

// LoadFile is Load on the file at path; it also returns the file's SHA-256
// in hex, for the record.
func LoadFile(path string) (*Net, Meta, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, Meta{}, "", fmt.Errorf("unet: %w", err)
	}
	n, meta, err := decode(b)
	if err != nil {
		return nil, Meta{}, "", fmt.Errorf("%w (file %s)", err, path)
	}
	s := sha256.Sum256(b)
	return n, meta, hex.EncodeToString(s[:]), nil
}

// ErrFormat is wrapped by every error about the contents of a weights file.
var ErrFormat = errors.New("bad weights file")

func formatErr(format string, args ...any) error {
	return fmt.Errorf("unet: %w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

func decode(b []byte) (*Net, Meta, error) {
	if len(b) < len(Magic) || string(b[:len(Magic)]) != Magic {
		return nil, Meta{}, formatErr("not an ipbench weights file (it does not start with %q)", Magic)
	}
	if len(b) < prefixLen {
		return nil, Meta{}, formatErr("truncated: %d bytes, shorter than the %d-byte prefix", len(b), prefixLen)
	}
	if v := binary.LittleEndian.Uint32(b[4:]); v != FormatVersion {
		return nil, Meta{}, formatErr("unsupported format version %d (this build reads version %d)", v, FormatVersion)
	}
	hl := int64(binary.LittleEndian.Uint32(b[8:]))
	if hl > maxHeader {
		return nil, Meta{}, formatErr("header length %d is over the limit of %d", hl, maxHeader)
	}
	if int64(len(b)) < int64(prefixLen)+hl+sumLen {
		return nil, Meta{}, formatErr("truncated: %d bytes, too short for a %d-byte header and the checksum", len(b), hl)
	}
	var h header
	if err := json.Unmarshal(b[prefixLen:prefixLen+int(hl)], &h); err != nil {
		if !checksumOK(b) {
			return nil, Meta{}, formatErr("corrupt: checksum mismatch (and the header does not parse)")
		}
		return nil, Meta{}, formatErr("header: %v", err)
	}
	var count int64
	for _, p := range h.Params {
		size := int64(1)
		for _, s := range p.Shape {
			if s < 1 || s > maxWidth*maxWidth {
				return nil, Meta{}, formatErr("parameter %s has shape %v", p.Name, p.Shape)
			}
			size *= int64(s)
		}
		count += size
		if count > math.MaxInt32 {
			return nil, Meta{}, formatErr("the header lists over %d parameters", math.MaxInt32)
		}
	}
	want := int64(prefixLen) + hl + 4*count + sumLen
	switch {
	case int64(len(b)) < want:
		return nil, Meta{}, formatErr("truncated: %d bytes, the header asks for %d", len(b), want)
	case int64(len(b)) > want:
		return nil, Meta{}, formatErr("corrupt: %d bytes, the header asks for %d", len(b), want)
	case !checksumOK(b):
		return nil, Meta{}, formatErr("corrupt: checksum mismatch")
	}
	if h.Architecture != Architecture {
		return nil, Meta{}, formatErr("architecture %q, this package reads %q", h.Architecture, Architecture)
	}
	if err := h.Config.Validate(); err != nil {
		return nil, Meta{}, formatErr("header config: %s", strings.TrimPrefix(err.Error(), "unet: "))
	}
	n, err := newNet(h.Config, nil)
	if err != nil {
		return nil, Meta{}, err
	}
	if len(h.Params) != len(n.params) {
		return nil, Meta{}, formatErr("weights for another architecture or resolution: the file has %d parameter tensors, its config builds %d",
			len(h.Params), len(n.params))
	}
	for i, p := range h.Params {
		q := n.params[i]
		if p.Name != q.Name || !slices.Equal(p.Shape, q.Shape) {
			return nil, Meta{}, formatErr("weights for another architecture or resolution: parameter %d is %s %v in the file, %s %v in the network its config builds",
				i, p.Name, p.Shape, q.Name, q.Shape)
		}
	}
	off := prefixLen + int(hl)
	for _, p := range n.params {
		for j := range p.Value {
			v := math.Float32frombits(binary.LittleEndian.Uint32(b[off:]))
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, Meta{}, formatErr("parameter %s[%d] is %v", p.Name, j, v)
			}
			p.Value[j] = v
			off += 4
		}
	}
	return n, h.Meta, nil
}

func checksumOK(b []byte) bool {
	body := b[:len(b)-sumLen]
	s := sha256.Sum256(body)
	return bytes.Equal(s[:], b[len(body):])
}
