// Package features runs pretrained feature networks (LPIPS, the FID
// Inception) through ONNX Runtime on a .onnx file the user supplies.
//
// The weights cannot ship with ipbench, so a table shows LPIPS, FID or KID
// only when computed by this package from such a file; nothing here falls
// back to another network. Network is the general runner (float32 in and out,
// batched, shapes checked against the model's declaration); LPIPS and
// Inception are thin wrappers that fix the tensor names and shapes of the
// exports below.
//
// # Runtime
//
// ONNX Runtime is loaded at run time (github.com/yalue/onnxruntime_go
// v1.27.0, which needs cgo) from the shared library named by
// ONNXRUNTIME_SHARED_LIBRARY_PATH. It must be ONNX Runtime 1.24.1 (the C API
// that onnxruntime_go v1.27.0 is built against). On linux-x64:
//
//	scripts/onnxruntime.sh                # into third_party/onnxruntime
//	export ONNXRUNTIME_SHARED_LIBRARY_PATH=$PWD/third_party/onnxruntime/libonnxruntime.so.1
//
// The script takes the official CPU build from the npm package
// onnxruntime-node@1.24.1 (bin/napi-v6/linux/x64/libonnxruntime.so.1).
// Without the library, or in a build without cgo, the package still builds
// and Open returns an error saying so (wrapping ErrNoLibrary when the library
// is missing).
//
// # Exporting the networks (Python, once, on any machine with internet)
//
// Both exports use PyTorch (Debian's python3-torch 1.13 works) and pip
// packages that download the pretrained weights on first use:
//
//	pip install lpips pytorch-fid
//
// LPIPS (VGG, version 0.1; inputs in [-1,1], the lpips package's convention;
// free batch and image size):
//
//	import torch, lpips
//	m = lpips.LPIPS(net="vgg").eval()
//	x = torch.zeros(1, 3, 256, 256)
//	dyn = {0: "N", 2: "H", 3: "W"}
//	torch.onnx.export(m, (x, x), "lpips-vgg.onnx", opset_version=17,
//	    input_names=["in0", "in1"], output_names=["distance"],
//	    dynamic_axes={"in0": dyn, "in1": dyn, "distance": {0: "N"}})
//
// FID Inception pool3 (pytorch-fid's FID weights; input [N,3,299,299] in
// [0,1]: normalize_input=True maps it to [-1,1] inside the graph, and
// resize_input=False leaves resizing to 299×299 to the caller):
//
//	import torch
//	from pytorch_fid.inception import InceptionV3
//	class Pool3(torch.nn.Module):
//	    def __init__(self):
//	        super().__init__()
//	        self.net = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]],
//	                               resize_input=False, normalize_input=True)
//	    def forward(self, x):
//	        return self.net(x)[0].flatten(1)
//	m = Pool3().eval()
//	torch.onnx.export(m, torch.rand(1, 3, 299, 299), "inception-pool3.onnx",
//	    opset_version=17, input_names=["images"], output_names=["pool3"],
//	    dynamic_axes={"images": {0: "N"}, "pool3": {0: "N"}})
//
// Record the SHA-256 of each .onnx file with the results; a different export
// (other weights, another resize) gives different numbers.
package features
