package unet

import (
	"fmt"
	"slices"
)

// Transplant sets dst's weights from src, a network of the same widths and
// levels that may lack dst's conditioning channels and labels (a trained
// denoiser that an EPS network or a restorer is fine-tuned from):
//
//   - a parameter of the same name and shape is copied;
//   - the input convolution, which in dst also reads the conditioning
//     channels appended after the image's, gets src's weights for the
//     image channels and zero for the others;
//   - a parameter src lacks (the label embedding) is set to zero.
//
// So dst starts as src: D_dst(x; σ, c, ℓ) = D_src(x; σ) for every c and ℓ,
// and training moves it from there.
func Transplant(dst, src *Net) error {
	a, b := dst.cfg, src.cfg
	// src's architecture, less what may differ, checked against dst's: like
	// weights loaded from a file against the ones expected. Expect only
	// reads Mults, so sharing src's is safe.
	same := b
	same.CondChannels, same.Labels = a.CondChannels, a.Labels
	if err := same.Expect(a); err != nil {
		return fmt.Errorf("unet: cannot start a network from a different one (only conditioning channels and labels may differ): %w", err)
	}
	if b.CondChannels > a.CondChannels || b.Labels > a.Labels {
		return fmt.Errorf("unet: cannot start a network of %d conditioning channels and %d labels from one of %d and %d", a.CondChannels, a.Labels, b.CondChannels, b.Labels)
	}
	from := map[string]Param{}
	for _, p := range src.params {
		from[p.Name] = p
	}
	for _, p := range dst.params {
		q, ok := from[p.Name]
		switch {
		case !ok:
			clear(p.Value)
		case slices.Equal(p.Shape, q.Shape):
			copy(p.Value, q.Value)
		case len(p.Shape) == 4 && len(q.Shape) == 4 && p.Shape[0] == q.Shape[0] && p.Shape[1] > q.Shape[1] &&
			p.Shape[2] == q.Shape[2] && p.Shape[3] == q.Shape[3]:
			// [out, in, k, k]: the first q.Shape[1] inputs are the image's.
			out, in, qin, kk := p.Shape[0], p.Shape[1], q.Shape[1], p.Shape[2]*p.Shape[3]
			clear(p.Value)
			for o := range out {
				copy(p.Value[(o*in)*kk:(o*in+qin)*kk], q.Value[(o*qin)*kk:(o*qin+qin)*kk])
			}
		default:
			return fmt.Errorf("unet: parameter %s is %v here and %v in the source network", p.Name, p.Shape, q.Shape)
		}
	}
	return nil
}
