"""Stationary Gaussian images with a chosen power spectrum and their optimal (Wiener) denoiser."""

import numpy as np

from keras_gahb.utils import numpy_rng
from keras_gahb.data.transforms import check_channels, check_count, check_size


class GaussianImages:
    """Stationary (periodic) Gaussian images x ~ N(m, C) with power spectrum P(k).

    C is circulant, diagonal in the 2-D Fourier basis with eigenvalues

        P(k) = c (|k|^2 + k0^2)^(-spectrum_exponent / 2),   k in cycles per image,

    with c set so that every pixel has standard deviation `std`. Samples are
    x = m + F^-1 (sqrt(P) F z) with z white. Because the prior is Gaussian, the
    MMSE denoiser of y = x + sigma z is linear, the Wiener filter

        f*(y) = m + F^-1 (P / (P + sigma^2) F (y - m)),

    and its MSE per pixel is mean_k P(k) sigma^2 / (P(k) + sigma^2). This is the
    analytic reference for denoiser tests, PSNR curves and the KL bound.
    Channels are independent copies. Values are not clipped (mostly in [0, 1]
    for the default mean and std).

    Args:
        size: image side.
        spectrum_exponent: decay exponent of P (0 = white noise; 2 ~ natural
            images). Default 2.0.
        std: pixel standard deviation. Default 0.15.
        mean: pixel mean m. Default 0.5.
        k0: low-frequency cutoff of P, in cycles per image (> 0). Default 1.0.
        channels: 1 or 3. Default 1.

    Example:

    >>> prior = keras_gahb.data.GaussianImages(16, spectrum_exponent=2.0)
    >>> x = prior.sample(8, seed=0)
    >>> y = x + 0.1 * np.random.default_rng(1).standard_normal(x.shape)
    >>> x_hat = prior.optimal_denoiser(y, 0.1)
    >>> prior.optimal_mse(0.1)  # expected ((x_hat - x) ** 2).mean()
    """

    def __init__(self, size, spectrum_exponent=2.0, std=0.15, mean=0.5, k0=1.0, channels=1):
        self.size = check_size(size)
        self.spectrum_exponent = float(spectrum_exponent)
        self.std = float(std)
        self.mean = float(mean)
        self.k0 = float(k0)
        self.channels = check_channels(channels)
        if not np.isfinite(self.spectrum_exponent):
            raise ValueError(f"spectrum_exponent must be finite, got {spectrum_exponent}.")
        if not self.std > 0 or not self.k0 > 0 or not np.isfinite(self.mean):
            raise ValueError("GaussianImages needs std > 0, k0 > 0 and a finite mean.")
        k = np.fft.fftfreq(self.size) * self.size
        radius2 = k[:, None] ** 2 + k[None, :] ** 2
        spectrum = (radius2 + self.k0**2) ** (-self.spectrum_exponent / 2)
        self._spectrum = spectrum * (self.std**2 / spectrum.mean())

    def power_spectrum(self):
        """P(k) as a (size, size) array in numpy FFT order (eigenvalues of C)."""
        return self._spectrum.copy()

    def sample(self, n, seed=0):
        """Draw n images, float32 (n, size, size, channels)."""
        n = check_count(n)
        z = numpy_rng(seed).standard_normal((n, self.channels, self.size, self.size))
        x = np.fft.ifft2(np.sqrt(self._spectrum) * np.fft.fft2(z)).real
        return (self.mean + np.moveaxis(x, 1, -1)).astype(np.float32)

    def covariance(self):
        """The (D, D) covariance C, D = size^2 channels (pixels in (H, W, C) order)."""
        dim = self.size**2 * self.channels
        if dim > 4096:
            raise ValueError(f"The covariance would be {dim}x{dim}; use size <= 64 // sqrt(C) or "
                             "work with power_spectrum() instead.")
        autocorrelation = np.fft.ifft2(self._spectrum).real
        rows = np.empty((self.size, self.size, self.size, self.size))
        for i in range(self.size):
            for j in range(self.size):
                rows[i, j] = np.roll(autocorrelation, (i, j), axis=(0, 1))
        gray = rows.reshape(self.size**2, self.size**2)
        full = np.zeros((self.size**2, self.channels, self.size**2, self.channels))
        for c in range(self.channels):
            full[:, c, :, c] = gray
        return full.reshape(dim, dim)

    def optimal_denoiser(self, y, sigma):
        """The Wiener filter E[x | y] for y = x + sigma z (sigma scalar or one per image).

        Args:
            y: noisy images (n, size, size, channels) (numpy or a backend tensor).
            sigma: noise level, scalar or (n,).

        Returns:
            float32 numpy array, same shape as y.
        """
        y = self._check_images(y)
        sigma2 = np.asarray(sigma, dtype=np.float64) ** 2
        if sigma2.ndim == 1:
            if sigma2.shape[0] != y.shape[0]:
                raise ValueError(f"sigma has {sigma2.shape[0]} values for {y.shape[0]} images.")
            sigma2 = sigma2[:, None, None, None]
        elif sigma2.ndim != 0:
            raise ValueError("sigma must be a scalar or one value per image.")
        centered = np.moveaxis(y - self.mean, -1, 1)
        gain = self._spectrum / (self._spectrum + sigma2)
        out = np.fft.ifft2(gain * np.fft.fft2(centered)).real
        return (self.mean + np.moveaxis(out, 1, -1)).astype(np.float32)

    def denoiser(self, sigma):
        """A callable y -> optimal_denoiser(y, sigma), usable where a denoiser is expected."""
        return lambda y: self.optimal_denoiser(y, sigma)

    def optimal_mse(self, sigma):
        """Expected per-pixel MSE of the Wiener filter at noise level sigma (scalar or array)."""
        sigma2 = np.asarray(sigma, dtype=np.float64)[..., None, None] ** 2
        p = self._spectrum
        mse = (p * sigma2 / (p + sigma2)).mean(axis=(-2, -1))
        return float(mse) if np.ndim(mse) == 0 else mse

    def get_config(self):
        return {"size": self.size, "spectrum_exponent": self.spectrum_exponent, "std": self.std,
                "mean": self.mean, "k0": self.k0, "channels": self.channels}

    def _check_images(self, y):
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 4 or y.shape[1:] != (self.size, self.size, self.channels):
            raise ValueError(f"Expected images (n, {self.size}, {self.size}, {self.channels}), "
                             f"got shape {y.shape}.")
        return y
