// Package distribution compares two sets of feature vectors (rows of equal
// dimension d) as samples of two distributions: the Fréchet distance
// between Gaussians fitted to them, and the maximum mean discrepancy (MMD)
// with a chosen kernel, including the kernel distance of Bińkowski et al.
// (2018) with its cubic polynomial kernel.
//
// These functions see only the vectors they are given; they run no
// network. The Fréchet distance of Inception-v3 pool features is what is
// called FID, and the polynomial-kernel MMD of the same features is KID;
// on pixels or on any other features they are something else, and the
// caller must name the metric for the features it used (DESIGN.md,
// "Metrics, honestly named"): for example "Fréchet (pixels)" or
// "MMD² (Gaussian, pixels)", never "FID" or "KID" unless the features are
// the standard network's.
package distribution
