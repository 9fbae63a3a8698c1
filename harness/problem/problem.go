// Package problem reads and writes Gaussian-mixture inverse problems as
// JSON files, the exchange format of `ipbench sample` and of any outside
// referee:
//
//	{"dim": d, "weights": [K], "means": [[d]…K],
//	 "covariances": [[[d]…d]…K]  or  "variances": [K]  (Cₖ = cₖ I),
//	 "A": [[d]…m], "y": [m], "sigma_y": σ_y}
//
// Every field is checked, and an error names the field that is wrong.
package problem

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/ipbench/ipbench/harness/atomicfile"
	"github.com/ipbench/ipbench/harness/gmm"
	"github.com/ipbench/ipbench/harness/operator"
)

// File is the JSON form of a problem.
type File struct {
	Dim         int           `json:"dim"`
	Weights     []float64     `json:"weights"`
	Means       [][]float64   `json:"means"`
	Covariances [][][]float64 `json:"covariances,omitempty"`
	Variances   []float64     `json:"variances,omitempty"`
	A           [][]float64   `json:"A"`
	Y           []float64     `json:"y"`
	SigmaY      float64       `json:"sigma_y"`
}

// Problem is a checked problem, ready for the solvers.
type Problem struct {
	Prior  *gmm.Mixture
	Op     operator.Operator
	Y      []float64
	SigmaY float64
}

// Read reads and checks the problem file at path.
func Read(path string) (*Problem, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("problem file: %w", err)
	}
	p, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("problem file %s: %w", path, err)
	}
	return p, nil
}

// Parse decodes and checks a problem from JSON.
func Parse(data []byte) (*Problem, error) {
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, jsonError(data, err)
	}
	if dec.More() {
		return nil, errors.New("malformed JSON: data after the problem object")
	}
	return f.Problem()
}

// Problem checks f and builds the prior and the operator.
func (f *File) Problem() (*Problem, error) {
	if f.Dim < 1 {
		return nil, fmt.Errorf("dim = %d: must be a positive integer (is the field missing?)", f.Dim)
	}
	if len(f.Means) == 0 {
		return nil, errors.New("means: missing or empty")
	}
	for k, m := range f.Means {
		if len(m) != f.Dim {
			return nil, fmt.Errorf("means[%d]: %d values, but dim = %d", k, len(m), f.Dim)
		}
	}
	if len(f.Weights) != len(f.Means) {
		return nil, fmt.Errorf("weights: %d values for %d means", len(f.Weights), len(f.Means))
	}
	var prior *gmm.Mixture
	var err error
	switch {
	case f.Covariances != nil && f.Variances != nil:
		return nil, errors.New("covariances and variances: give one, not both")
	case f.Covariances != nil:
		prior, err = gmm.NewFull(f.Weights, f.Means, f.Covariances)
	case f.Variances != nil:
		prior, err = gmm.NewIsotropic(f.Weights, f.Means, f.Variances)
	default:
		return nil, errors.New("covariances: missing (give covariances, or variances for Cₖ = cₖ I)")
	}
	if err != nil {
		return nil, err
	}
	if len(f.A) == 0 {
		return nil, errors.New("A: missing or empty")
	}
	m := len(f.A)
	flat := make([]float64, 0, m*f.Dim)
	for i, row := range f.A {
		if len(row) != f.Dim {
			return nil, fmt.Errorf("A[%d]: %d values, but dim = %d", i, len(row), f.Dim)
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("A[%d][%d] = %v: not finite", i, j, v)
			}
		}
		flat = append(flat, row...)
	}
	if len(f.Y) != m {
		return nil, fmt.Errorf("y: %d values, but A has %d rows", len(f.Y), m)
	}
	for i, v := range f.Y {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("y[%d] = %v: not finite", i, v)
		}
	}
	if !(f.SigmaY > 0) || math.IsInf(f.SigmaY, 0) {
		return nil, fmt.Errorf("sigma_y = %v: must be positive and finite (is the field missing?)", f.SigmaY)
	}
	op, err := operator.NewDense(m, f.Dim, flat)
	if err != nil {
		return nil, fmt.Errorf("A: %w", err)
	}
	return &Problem{Prior: prior, Op: op, Y: append([]float64(nil), f.Y...), SigmaY: f.SigmaY}, nil
}

// Write writes f as JSON to path atomically.
func (f *File) Write(path string) error {
	return WriteJSON(path, f)
}

// WriteJSON writes v as JSON to path atomically: a failure never leaves half
// a file behind.
func WriteJSON(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return atomicfile.Write(path, append(data, '\n'))
}

// jsonError turns a decoding error into one that says where and, where it
// can, which field.
func jsonError(data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off := int(se.Offset)
		line, col := position(data, off)
		field := enclosingKey(data, off)
		msg := fmt.Sprintf("malformed JSON at line %d, column %d", line, col)
		if field != "" {
			msg += fmt.Sprintf(" (in %q)", field)
		}
		rest := strings.TrimLeft(string(data[max(off-1, 0):min(off+9, len(data))]), " \t\r\n,:[")
		for _, tok := range []string{"NaN", "Infinity", "-Infinity", "Inf", "-Inf", "nan", "inf"} {
			if strings.HasPrefix(rest, tok) {
				return fmt.Errorf("%s: %s is not a finite number (NaN and Inf are not allowed)", msg, tok)
			}
		}
		return fmt.Errorf("%s: %v", msg, se)
	case errors.As(err, &te):
		return fmt.Errorf("field %q: %v", te.Field, te)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("malformed JSON: the file is empty or ends early")
	}
	return fmt.Errorf("malformed JSON: %w", err)
}

func position(data []byte, off int) (line, col int) {
	line, col = 1, 1
	for i := 0; i < off && i < len(data); i++ {
		if data[i] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// enclosingKey returns the last object key that starts before off.
func enclosingKey(data []byte, off int) string {
	s := string(data[:min(off, len(data))])
	for {
		i := strings.LastIndex(s, "\":")
		if i < 0 {
			return ""
		}
		j := strings.LastIndex(s[:i], "\"")
		if j >= 0 {
			return s[j+1 : i]
		}
		s = s[:i]
	}
}
