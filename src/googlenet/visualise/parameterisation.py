"""The image being optimised, as parameters that make readable images rather than high-frequency noise.

Olah, Mordvintsev and Schubert, "Feature Visualization", Distill 2017, section "The Enemy of Feature
Visualization" and lucid's `lucid.optvis.param`: the image is the inverse Fourier transform of a spectrum
whose frequencies are scaled by 1/frequency (a gradient step then moves every frequency about equally,
rather than the highest ones most), and, for colour models, its three channels are mixed by the square
root of ImageNet's colour correlation, so that the parameters are decorrelated colours. A sigmoid keeps
the pixels in [0, 1]. A grayscale model gets one channel and no colour mixing.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

# lucid's `color_correlation_svd_sqrt`: the square root of ImageNet's RGB covariance, from its SVD.
COLOUR_CORRELATION_SQRT = ((0.26, 0.09, 0.02), (0.27, 0.00, -0.05), (0.27, -0.09, 0.03))
# The spectrum's initial scale (lucid's sd=0.01): a start close to uniform grey.
INITIAL_SCALE = 0.01
# The image is the inverse transform over this (lucid's and lucent's /4): pixels of a moderate range at the start.
PIXEL_DIVISOR = 4.0
# Each frequency's weight is 1/frequency**DECAY_POWER (lucid's decay_power=1).
DECAY_POWER = 1.0


def _frequency_scale(height: int, width: int) -> Tensor:
    vertical = torch.fft.fftfreq(height)[:, None]
    horizontal = torch.fft.rfftfreq(width)[None, :]
    frequency = torch.sqrt(vertical**2 + horizontal**2)
    return 1.0 / frequency.clamp_min(1.0 / max(height, width)) ** DECAY_POWER


class FourierImage(nn.Module):
    """A batch of `count` images [count, channels, side, side] in [0, 1], parameterised by their spectra.

    `generator` makes the start reproducible; `start` (images in [0, 1]) replaces the random start with
    given pictures, inverted through the sigmoid, the colour mixing and the spectrum scaling.
    """

    def __init__(self, count: int, channels: int, side: int, *, generator: torch.Generator | None = None,
                 start: Tensor | None = None) -> None:
        super().__init__()
        if channels not in (1, 3):
            raise ValueError(f"images have 1 (grayscale) or 3 (RGB) channels, not {channels}")
        self.side = side
        self.register_buffer("scale", _frequency_scale(side, side))
        colour = torch.tensor(COLOUR_CORRELATION_SQRT)
        self.register_buffer("colour", colour / colour.norm(dim=0).max())
        shape = (count, channels, side, side // 2 + 1)
        if start is None:
            spectrum = torch.complex(torch.randn(shape, generator=generator), torch.randn(shape, generator=generator))
            self.spectrum = nn.Parameter(torch.view_as_real(spectrum * INITIAL_SCALE))
        else:
            self.spectrum = nn.Parameter(torch.view_as_real(self._spectrum_of(start)))

    def _mix(self, decorrelated: Tensor) -> Tensor:
        if decorrelated.shape[1] == 1:
            return decorrelated
        return torch.einsum("nchw,dc->ndhw", decorrelated, self.colour)

    def _spectrum_of(self, images: Tensor) -> Tensor:
        logits = torch.logit(images.float().clamp(1e-3, 1 - 1e-3))
        if logits.shape[1] == 3:
            logits = torch.einsum("nchw,dc->ndhw", logits, torch.linalg.inv(self.colour))
        return torch.fft.rfft2(logits * PIXEL_DIVISOR, norm="ortho") / self.scale

    def forward(self) -> Tensor:
        spectrum = torch.view_as_complex(self.spectrum) * self.scale
        decorrelated = torch.fft.irfft2(spectrum, s=(self.side, self.side), norm="ortho") / PIXEL_DIVISOR
        return torch.sigmoid(self._mix(decorrelated))
