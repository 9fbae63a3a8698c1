package unet

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Config is the architecture of a Net. Two Nets with equal Configs have the
// same parameters, in the same order, with the same shapes.
type Config struct {
	Resolution   int     `json:"resolution"`    // image side in pixels
	Channels     int     `json:"channels"`      // image channels
	CondChannels int     `json:"cond_channels"` // conditioning channels concatenated to the input; 0 for a plain denoiser
	Labels       int     `json:"labels"`        // labels with a learned embedding; 0 for none
	Base         int     `json:"base"`          // width of the first level; also the number of noise features
	Mults        []int   `json:"mults"`         // width of level l is Base·Mults[l]; one level per entry
	Blocks       int     `json:"blocks"`        // residual blocks per level, in the encoder and in the decoder
	Groups       int     `json:"groups"`        // GroupNorm groups
	SigmaData    float64 `json:"sigma_data"`    // σ_data of the EDM preconditioning
}

// Config32 is the default architecture for 32×32 RGB images: widths 32, 64
// and 64 at 32, 16 and 8 px, one block per level; 0.67 M parameters.
func Config32() Config {
	return Config{Resolution: 32, Channels: 3, Base: 32, Mults: []int{1, 2, 2}, Blocks: 1, Groups: 8, SigmaData: 0.5}
}

// Config64 is the default architecture for 64×64 RGB images: widths 16, 32,
// 64 and 64 at 64, 32, 16 and 8 px, so each resolution costs about what it
// does in Config32; 0.64 M parameters.
func Config64() Config {
	return Config{Resolution: 64, Channels: 3, Base: 16, Mults: []int{1, 2, 4, 4}, Blocks: 1, Groups: 4, SigmaData: 0.5}
}

// Limits that keep a bad header from asking for absurd allocations.
const (
	maxResolution = 1024
	maxWidth      = 4096
	maxLevels     = 8
	maxBlocks     = 16
	maxChannels   = 1024
	maxLabels     = 1 << 20
)

// Validate reports whether c describes a network that can be built, naming
// the first bad field.
func (c Config) Validate() error {
	bad := func(field string, format string, args ...any) error {
		return fmt.Errorf("unet: config %s: %s", field, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Channels < 1 || c.Channels > maxChannels:
		return bad("Channels", "%d is not in [1, %d]", c.Channels, maxChannels)
	case c.CondChannels < 0 || c.CondChannels > maxChannels:
		return bad("CondChannels", "%d is not in [0, %d]", c.CondChannels, maxChannels)
	case c.Labels < 0 || c.Labels > maxLabels:
		return bad("Labels", "%d is not in [0, %d]", c.Labels, maxLabels)
	case c.Base < 4 || c.Base%2 != 0 || c.Base > maxWidth:
		return bad("Base", "%d is not an even number in [4, %d]", c.Base, maxWidth)
	case len(c.Mults) == 0 || len(c.Mults) > maxLevels:
		return bad("Mults", "%d levels, want 1 to %d", len(c.Mults), maxLevels)
	case c.Blocks < 1 || c.Blocks > maxBlocks:
		return bad("Blocks", "%d is not in [1, %d]", c.Blocks, maxBlocks)
	case c.Groups < 1:
		return bad("Groups", "%d is not positive", c.Groups)
	case !(c.SigmaData > 0) || math.IsInf(c.SigmaData, 0):
		return bad("SigmaData", "%v is not positive and finite", c.SigmaData)
	}
	if c.Base%c.Groups != 0 {
		return bad("Groups", "%d does not divide Base = %d", c.Groups, c.Base)
	}
	for l, m := range c.Mults {
		if m < 1 || c.Base*m > maxWidth {
			return bad("Mults", "Mults[%d] = %d gives width %d, want 1 to %d", l, m, c.Base*m, maxWidth)
		}
	}
	down := 1 << (len(c.Mults) - 1)
	if c.Resolution < down || c.Resolution > maxResolution || c.Resolution%down != 0 {
		return bad("Resolution", "%d is not a multiple of %d (one halving per level after the first) in [%d, %d]",
			c.Resolution, down, down, maxResolution)
	}
	return nil
}

// Expect reports, naming the fields, how c differs from want: for example
// weights trained at 64 px loaded where 32 px is expected.
func (c Config) Expect(want Config) error {
	var diffs []string
	diff := func(field string, got, want any) {
		diffs = append(diffs, fmt.Sprintf("%s is %v, want %v", field, got, want))
	}
	if c.Resolution != want.Resolution {
		diff("Resolution", c.Resolution, want.Resolution)
	}
	if c.Channels != want.Channels {
		diff("Channels", c.Channels, want.Channels)
	}
	if c.CondChannels != want.CondChannels {
		diff("CondChannels", c.CondChannels, want.CondChannels)
	}
	if c.Labels != want.Labels {
		diff("Labels", c.Labels, want.Labels)
	}
	if c.Base != want.Base {
		diff("Base", c.Base, want.Base)
	}
	if !slices.Equal(c.Mults, want.Mults) {
		diff("Mults", c.Mults, want.Mults)
	}
	if c.Blocks != want.Blocks {
		diff("Blocks", c.Blocks, want.Blocks)
	}
	if c.Groups != want.Groups {
		diff("Groups", c.Groups, want.Groups)
	}
	if c.SigmaData != want.SigmaData {
		diff("SigmaData", c.SigmaData, want.SigmaData)
	}
	if len(diffs) == 0 {
		return nil
	}
	return fmt.Errorf("unet: network is not the expected architecture: %s", strings.Join(diffs, "; "))
}

func (c Config) clone() Config {
	c.Mults = slices.Clone(c.Mults)
	return c
}

// width is the number of channels at level l.
func (c Config) width(l int) int { return c.Base * c.Mults[l] }

// embedDim is the width of the noise embedding after its MLP.
func (c Config) embedDim() int { return 4 * c.Base }
