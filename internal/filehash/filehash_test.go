package filehash

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestSHA256(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 100_000} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i * 7)
		}
		path := filepath.Join(dir, "f")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		want := sha256.Sum256(data)
		got, err := SHA256(path)
		if err != nil || got != hex.EncodeToString(want[:]) {
			t.Errorf("%d bytes: SHA256 = %q, %v; want %x", n, got, err, want)
		}
	}
	if _, err := SHA256(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := SHA256(dir); err == nil {
		t.Error("a directory hashed without error")
	}
}
