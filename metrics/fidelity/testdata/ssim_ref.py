import numpy as np, skimage
from skimage.metrics import structural_similarity as ssim
print("skimage", skimage.__version__)
def img(c, h, w, p):
    x = np.empty((c, h, w))
    for k in range(c):
        for i in range(h):
            for j in range(w):
                x[k, i, j] = np.sin(0.3*i + 0.7*j + k + p) * np.cos(0.2*i*j/(k+1) - p)
    return x
def run(c, h, w, pa, pb, sa=1.0):
    a, b = sa*img(c, h, w, pa), img(c, h, w, pb)
    ua = np.clip((a+1)/2, 0, 1); ub = np.clip((b+1)/2, 0, 1)
    return ssim(ua, ub, channel_axis=0, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
for args in [(3,16,16,0.0,0.5), (1,12,20,0.0,1.0), (2,11,11,0.3,0.4), (1,12,20,0.0,0.0), (2,13,17,0.2,0.9,1.5)]:
    print(args, repr(run(*args)))
