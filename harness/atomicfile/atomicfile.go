// Package atomicfile writes files so that a reader sees either the old file
// or the whole new one, never half of it: the data goes to a temporary file
// in the same directory, is synced, and is then renamed over the target.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write writes data to path atomically and durably (synced before the
// rename).
func Write(path string, data []byte) error { return write(path, data, true) }

// WriteUnsynced writes data to path atomically but leaves flushing it to
// the operating system: a killed process never leaves half a file, but a
// power cut may lose the file. For outputs that the caller can check and
// redo, where a sync per file would cost more than the work.
func WriteUnsynced(path string, data []byte) error { return write(path, data, false) }

func write(path string, data []byte, sync bool) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if sync {
		if err = f.Sync(); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
