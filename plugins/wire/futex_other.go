//go:build !linux

package wire

import "time"

const futexSupported = false

func futexWait(*uint32, uint32, time.Duration) {}
func futexWake(*uint32)                        {}
