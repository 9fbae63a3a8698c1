// Package unet is a small UNet denoiser with EDM preconditioning, built on
// gorgonia's expression graphs and reverse-mode differentiation, small enough
// to train on a CPU.
//
// # The denoiser
//
// For pixels in [-1, 1] and σ_d = Config.SigmaData (0.5), the network is
//
//	D(x; σ, c, ℓ) = c_skip(σ) x + c_out(σ) F(c_in(σ) x ⊕ c, c_noise(σ), ℓ),
//
//	c_skip = σ_d²/(σ² + σ_d²),  c_out = σ σ_d/√(σ² + σ_d²),
//	c_in = 1/√(σ² + σ_d²),      c_noise = ¼ ln σ
//
// (Karras et al. 2022, Table 1). c is an optional conditioning image of
// Config.CondChannels channels, appended to the scaled input unscaled; ℓ an
// optional integer label whose learned embedding is added to the noise
// features. D is trained with Net.Loss, and Net.VJP gives J_xᵀ v, J_x the
// Jacobian of D (c_skip term included) with respect to x.
//
// # The network F
//
// Noise embedding: the positional features [cos(c_noise fₖ), sin(c_noise fₖ)],
// fₖ = 10⁻⁴^(k/(Base/2 − 1)), of EDM's DDPM++ (plus the label's embedding
// row), then Dense → SiLU → Dense → SiLU, to e of width 4·Base.
//
// UNet, with w_l = Base·Mults[l]:
//
//	conv₃ to Base
//	for each level l: Blocks residual blocks to w_l; keep the output as skip_l;
//	                  then, but at the last level, a stride-2 conv₃ (halves H, W)
//	one residual block at the lowest resolution
//	for each level l, last first: concatenate skip_l; Blocks residual blocks
//	                  to w_l; then, but at level 0, nearest 2× upsampling and
//	                  conv₃ to w_{l−1}
//	GroupNorm → SiLU → conv₃ to Channels
//
// A residual block from C to C′ channels is
//
//	h = conv₃(SiLU(GN(x))) + Dense(e)   (a per-channel shift per sample)
//	y = skip(x) + conv₃(SiLU(GN(h)))    (skip a 1×1 conv when C ≠ C′)
//
// SiLU(x) = x σ(x); GN a GroupNorm of Config.Groups groups with a learned
// per-channel scale and shift. The last conv₃ of each block and the output
// conv₃ start at zero, so a new network has F = 0 and D = c_skip x exactly.
//
// # Gorgonia
//
// Everything runs in float32 through gorgonia graphs, compiled per batch size
// and mode (denoise, VJP, loss) and cached; parameters are shared tensors, so
// an optimiser updating Params in place is seen by every graph. Of gorgonia's
// own operations the network uses Mul, Add, Sub, Square, Sum, Reshape,
// Concat, BroadcastAdd and BroadcastHadamardProd, with symbolic
// differentiation (Grad, Backpropagate). Four operations are this package's,
// plugged into gorgonia as Ops with their own gradients: the convolution
// (gorgonia's Conv2d is correct but more than twice as slow here), GroupNorm
// (gorgonia's computes a wrong variance for groups of over 256 values, and
// logs every gradient it sees), SiLU (gorgonia has none) and
// nearest upsampling (gorgonia's boxes every element). The tests check each
// against finite differences and the convolution against Conv2d. Not used:
// AveragePool2D, whose gradient is wrong, and BatchNorm, whose gradient is
// suspect, in gorgonia v0.9.18.
//
// gorgonia runs a graph on a goroutine of its own, where a panic cannot be
// recovered; so every argument is checked before a graph runs, and this
// package's ops turn their own panics into errors.
//
// # Weights files
//
// Net.Save writes, and Load reads, version 1 of this layout, all integers
// little-endian:
//
//	"IPBW"                          4 bytes, magic
//	version                         uint32, 1
//	n                               uint32, length of the header
//	header                          n bytes of JSON:
//	    {"architecture": "unet", "config": Config,
//	     "params": [{"name", "shape"}, …], "meta": Meta}
//	values                          float32, every parameter in Params order
//	checksum                        32 bytes, SHA-256 of everything before it
//
// Load rejects, with an error that says which, a file that is not a weights
// file, another version, a truncated or corrupt file, a header config that
// fails Validate, and parameters that are not those the config builds
// (weights for another architecture or resolution). A caller that needs a
// given architecture checks it with Config.Expect, for example
// n.Config().Expect(unet.Config32()).
package unet
