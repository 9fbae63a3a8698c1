import numpy as np, scipy, scipy.linalg
print("numpy", np.__version__, "scipy", scipy.__version__)
A = np.array([[2, 0.5, 0.1], [0.5, 1.5, 0.3], [0.1, 0.3, 1]])
B = np.array([[1, -0.4, 0.2], [-0.4, 2, 0.5], [0.2, 0.5, 0.8]])
mu1 = np.array([0, 1, 2.]); mu2 = np.array([0.5, 0.5, 0.5])
covmean = scipy.linalg.sqrtm(A @ B)  # as pytorch-fid's calculate_frechet_distance
d = mu1 - mu2
print(repr(d @ d + np.trace(A) + np.trace(B) - 2 * np.trace(covmean).real))
