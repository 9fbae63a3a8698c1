// Package seed derives the per-sample random streams of ipbench:
//
//	seed = SHA-256(run seed, dataset, image id, sample index)
//
// so that a sample's randomness depends on what it is, never on the batch,
// the order or the shard it was drawn in.
package seed

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"

	"github.com/ipbench/ipbench/plugins/sdk"
)

// Of returns the seed of one sample.
func Of(run uint64, dataset, image string, sample int) sdk.Seed {
	h := sha256.New()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], run)
	h.Write(b[:])
	for _, s := range []string{dataset, image} {
		binary.LittleEndian.PutUint64(b[:], uint64(len(s)))
		h.Write(b[:])
		h.Write([]byte(s))
	}
	binary.LittleEndian.PutUint64(b[:], uint64(sample))
	h.Write(b[:])
	sum := h.Sum(nil)
	return sdk.Seed{Hi: binary.LittleEndian.Uint64(sum[:8]), Lo: binary.LittleEndian.Uint64(sum[8:16])}
}

// Stream returns the random stream of one sample.
func Stream(run uint64, dataset, image string, sample int) *rand.Rand {
	return Of(run, dataset, image, sample).Rand()
}

// Seeds returns the seeds of samples first, first+1, …, first+n−1.
func Seeds(run uint64, dataset, image string, first, n int) []sdk.Seed {
	s := make([]sdk.Seed, n)
	for i := range s {
		s[i] = Of(run, dataset, image, first+i)
	}
	return s
}
