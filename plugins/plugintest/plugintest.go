// Package plugintest builds plugin binaries for tests that start them.
package plugintest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Build builds each package (import path or ./relative) into dir under its
// name, with the go command of the test's environment.
func Build(dir string, binaries map[string]string) error {
	for name, pkg := range binaries {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("building %s from %s: %w", name, pkg, err)
		}
	}
	return nil
}
