package dataset

// span holds the area weights of one output pixel along one axis: source
// pixels first, first+1, …, first+len(w)−1 with integer weights w.
type span struct {
	first int
	w     []float64
}

// areaSpans returns the area-resize weights along an axis of n source pixels
// resized to m output pixels. Measured in units of 1/m of a source pixel
// (so that source pixel i is [i·m, (i+1)·m) and output pixel j is
// [j·n, (j+1)·n)), the weight of source pixel i in output pixel j is the
// integer length of the overlap of the two intervals,
//
//	o_ji = |[i·m, (i+1)·m) ∩ [j·n, (j+1)·n)|,
//
// and output j is Σ_i o_ji x_i / n. The weights of each output sum to n,
// and those of each source pixel sum to m.
func areaSpans(n, m int) []span {
	spans := make([]span, m)
	for j := range spans {
		lo, hi := j*n, (j+1)*n
		first, last := lo/m, (hi-1)/m
		w := make([]float64, last-first+1)
		for i := first; i <= last; i++ {
			w[i-first] = float64(min(hi, (i+1)*m) - max(lo, i*m))
		}
		spans[j] = span{first: first, w: w}
	}
	return spans
}

// resizeSums sets dst (len(rows)×len(cols), row-major) to the unnormalised
// separable area resize of src (h×w, row-major):
//
//	dst[j][k] = Σ_y Σ_x rows[j]_y · cols[k]_x · src[y][x],
//
// with rows = areaSpans(h, ·) and cols = areaSpans(w, ·); dividing by h·w
// gives the area means. tmp must have length at least h·len(cols). With
// integer-valued src the sums are exact as long as they stay below 2⁵³.
func resizeSums(dst, src []float64, h, w int, rows, cols []span, tmp []float64) {
	mw := len(cols)
	// Along x: each source row to mw sums.
	for y := range h {
		srow := src[y*w : (y+1)*w]
		trow := tmp[y*mw : (y+1)*mw]
		for k, c := range cols {
			var s float64
			for i, wt := range c.w {
				s += wt * srow[c.first+i]
			}
			trow[k] = s
		}
	}
	// Along y: combine rows of tmp.
	for j, r := range rows {
		drow := dst[j*mw : (j+1)*mw]
		clear(drow)
		for i, wt := range r.w {
			trow := tmp[(r.first+i)*mw : (r.first+i+1)*mw]
			for k, v := range trow {
				drow[k] += wt * v
			}
		}
	}
}

// areaResize returns the h×w image src area-resized to mh×mw: each output
// pixel is the overlap-weighted mean of the source pixels it covers.
func areaResize(src []float64, h, w, mh, mw int) []float64 {
	dst := make([]float64, mh*mw)
	resizeSums(dst, src, h, w, areaSpans(h, mh), areaSpans(w, mw), make([]float64, h*mw))
	d := float64(h) * float64(w)
	for i := range dst {
		dst[i] /= d
	}
	return dst
}
