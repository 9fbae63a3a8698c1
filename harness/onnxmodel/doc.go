// Package onnxmodel serves EDM-style denoiser networks that a user exported
// from PyTorch to ONNX: the denoiser D(x; σ) of a diffusion model, an EPS
// model or conditional restorer D(x, cond; σ), and optionally a second graph
// with the vector-Jacobian product J_x D(x; σ)ᵀ v. It runs them through ONNX
// Runtime (internal/onnxrt) on the CPU or a CUDA GPU.
//
// # The file convention (checked at Open)
//
// Images are channel-first float32 in [-1, 1], σ in the same units (EDM's
// variance-exploding convention x = x0 + σ ε). N is the batch; it may be
// dynamic (declared symbolic, the usual export with dynamic_axes) or fixed,
// in which case rows are sent in chunks of N and the last chunk is padded
// with copies of its last row (whose outputs are dropped).
//
//	input         dtype    shape          role
//	x             float32  [N, C, H, W]   all: the noisy image (EPS: the pivot μ*)
//	sigma         float32  [N]            all: σ per row, > 0
//	cond          float32  [N, Cc, H, W]  EPS and Restorer only, required: the
//	                                      measurement mapped into image space (e.g. Aᵀy)
//	class_labels  float32  [N, K]         optional, any role: one-hot class (EDM's convention)
//	task          float32  [N, K]         optional, EPS and Restorer: one-hot task index
//
//	output        dtype    shape
//	denoised      float32  [N, C, H, W]   D(x; σ) (with cond, labels as given)
//
// A model has at most one of class_labels and task, and no other inputs.
// The task is one-hot float32 rather than an int64 index so that K is read
// from the file and every label input follows EDM's class_labels
// convention; an int64 task input is refused. Callers pass labels as class
// or task indices in [0, K); onnxmodel writes the one-hot rows. C, H, W (and
// Cc) are taken from the file; a dimension the file leaves free must be
// given in Options, and a fixed one that disagrees with Options is an error.
//
// # The VJP graph (optional, a second file)
//
// Inputs x, sigma, v (float32 [N, C, H, W]) and exactly the cond and label
// inputs of the denoiser; output vjp float32 [N, C, H, W] equal to
// J_x D(x; σ)ᵀ v, the vector-Jacobian product that DPS-style solvers need.
// ONNX has no automatic differentiation, so the product is exported as its
// own graph. With PyTorch, export a module whose forward calls
// torch.autograd.grad with create_graph=True:
//
//	class VJP(torch.nn.Module):
//	    def __init__(self, net):
//	        super().__init__()
//	        self.net = net
//	    def forward(self, x, sigma, v):
//	        with torch.enable_grad():
//	            x = x.detach().requires_grad_(True)
//	            d = self.net(x, sigma)
//	            (g,) = torch.autograd.grad(d, x, grad_outputs=v, create_graph=True)
//	        return g
//	torch.onnx.export(VJP(net), (x, sigma, v), "model-vjp.onnx", opset_version=17,
//	    input_names=["x", "sigma", "v"], output_names=["vjp"],
//	    dynamic_axes={k: {0: "N"} for k in ["x", "sigma", "v", "vjp"]})
//
// This may not export for every network: the tracer must record the
// backward pass as ordinary operators, and with PyTorch 1.13 it cannot for
// EDM's networks (nor for a small matmul-tanh module; see EXPORT.md).
// torch.func.vjp with the torch.export-based exporter of newer PyTorch is
// the other route (untested). Check an exported graph against
// torch.autograd.grad on random inputs (EXPORT.md). When none can be
// exported, this model has no VJP: VJP returns ErrNoVJP, and solvers that
// need one take the model from a model plugin with autograd instead.
//
// # Provenance
//
// SHA256 returns the hex SHA-256 of the .onnx file, or with a VJP graph
// "MODEL+VJP", the two digests joined by a plus sign, so each file can be
// checked with sha256sum. It reads the files when called: Open does not
// hash them (harness/config hashes the files a configuration names).
//
// EXPORT.md gives the export steps and a check script for the public EDM
// FFHQ-64 and ImageNet-64 checkpoints.
package onnxmodel
