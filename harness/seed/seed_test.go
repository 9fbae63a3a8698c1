package seed

import "testing"

func TestStream(t *testing.T) {
	a := Stream(1, "ffhq", "00001", 3).Uint64()
	if b := Stream(1, "ffhq", "00001", 3).Uint64(); a != b {
		t.Errorf("same key, different streams: %d, %d", a, b)
	}
	for _, other := range []uint64{
		Stream(2, "ffhq", "00001", 3).Uint64(),
		Stream(1, "imagenet", "00001", 3).Uint64(),
		Stream(1, "ffhq", "00002", 3).Uint64(),
		Stream(1, "ffhq", "00001", 4).Uint64(),
		// The length prefix keeps ("ab", "c") apart from ("a", "bc").
		Stream(1, "ffhq0", "0001", 3).Uint64(),
	} {
		if other == a {
			t.Errorf("different keys gave the same stream")
		}
	}
	s := Seeds(1, "ffhq", "00001", 2, 3)
	if s[1].Rand().Uint64() != a {
		t.Errorf("Seeds(first=2)[1] is not sample 3's seed")
	}
}
