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
)

// Stream returns the random stream of one sample.
func Stream(run uint64, dataset, image string, sample int) *rand.Rand {
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
	return rand.New(rand.NewPCG(binary.LittleEndian.Uint64(sum[:8]), binary.LittleEndian.Uint64(sum[8:16])))
}

// Streams returns the streams of samples first, first+1, …, first+n−1.
func Streams(run uint64, dataset, image string, first, n int) []*rand.Rand {
	r := make([]*rand.Rand, n)
	for i := range r {
		r[i] = Stream(run, dataset, image, first+i)
	}
	return r
}
