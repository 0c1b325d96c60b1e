"""Geometry of 2-D convolutions: the one place that knows where a kernel tap lands.

A convolution (cross-correlation, as in PyTorch) with kernel (kh, kw), stride
(s_h, s_w), padding (p_h, p_w) and dilation (d_h, d_w) reads, for output position
``o`` along one axis, the input positions ``o * s - p + k * d`` for taps
``k = 0 .. K-1``; a position outside ``[0, n)`` falls on padding and is not a
connection.  Everything else is derived from that rule:

* :func:`output_size` — output length along one axis (PyTorch's formula);
* :func:`window_inputs` — input position of every tap of every output window;
* :func:`tap_outputs` — the inverse map: output position reached by each input
  position through each tap (what an event-driven kernel streams);
* :class:`ConvGeometry` — both axes plus channels and groups: exact fan-out counts at
  the borders, the explicit (pre, post, weight index) connection list from which the
  dense and CSR views of a convolution are built (no im2col), and the padded-window
  products used by the dense reference and the dense forward pass.

Index orders: pre-synaptic units are (C_in, H, W) row-major, port entries (C_out,
H_out, W_out) row-major, kernels (C_out, C_in // groups, kh, kw) as in PyTorch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["output_size", "window_inputs", "tap_outputs", "ConvGeometry"]


def output_size(
    n: int, k: int, stride: int = 1, padding: int = 0, dilation: int = 1, ceil_mode: bool = False
) -> int:
    """Output length along one axis (PyTorch's rule for convolution and pooling).

    Parameters
    ----------
    n : int
        Input length.
    k, stride, padding, dilation : int
        Kernel taps, step between windows, zeros added on each side, step between taps.
    ceil_mode : bool
        Round the window count up (pooling only); the last window must start inside
        the input or the left padding.

    Returns
    -------
    int
        May be < 1 when the kernel does not fit.
    """
    span = n + 2 * padding - dilation * (k - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= n + padding:
        out -= 1
    return out


def window_inputs(
    n: int, k: int, stride: int, padding: int, n_out: int, dilation: int = 1
) -> np.ndarray:
    """Input position of tap ``k`` of output window ``o``, −1 where it falls on padding.

    Returns
    -------
    ndarray of int64, shape (n_out, k)
    """
    pos = np.arange(n_out)[:, None] * stride - padding + np.arange(k)[None, :] * dilation
    return np.where((pos >= 0) & (pos < n), pos, -1).astype(np.int64)


def tap_outputs(
    n: int, k: int, stride: int, padding: int, n_out: int, dilation: int = 1
) -> np.ndarray:
    """Output position that input position ``y`` reaches through tap ``k``, or −1.

    Returns
    -------
    ndarray of int64, shape (k, n)
        Entry [k, y] is ``(y + padding - k * dilation) / stride`` when that is an
        integer in ``[0, n_out)``, else −1.
    """
    t = np.arange(n)[None, :] + padding - np.arange(k)[:, None] * dilation
    valid = (t >= 0) & (t % stride == 0) & (t // stride < n_out)
    return np.where(valid, t // stride, -1).astype(np.int64)


@dataclass(frozen=True)
class ConvGeometry:
    """Shapes of one 2-D convolution (no weights).

    Parameters
    ----------
    in_shape : tuple of int
        (C_in, H, W).
    c_out : int
        Output channels.
    kernel : tuple of int
        (kh, kw).
    stride, padding : tuple of int
        Per axis (h, w).
    groups : int
        C_in and C_out are split into ``groups`` blocks; output channel ``o`` reads input
        channels ``(o // (C_out / groups)) * (C_in / groups) + i``.
    dilation : tuple of int
        Per axis; the weight operators use (1, 1).
    """

    in_shape: tuple
    c_out: int
    kernel: tuple
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)
    groups: int = 1
    dilation: tuple = (1, 1)

    # -- shapes -----------------------------------------------------------------------
    @property
    def out_shape(self) -> tuple[int, int, int]:
        """(C_out, H_out, W_out); a spatial size < 1 means the kernel does not fit."""
        _, h, w = self.in_shape
        return (
            self.c_out,
            output_size(h, self.kernel[0], self.stride[0], self.padding[0], self.dilation[0]),
            output_size(w, self.kernel[1], self.stride[1], self.padding[1], self.dilation[1]),
        )

    @property
    def n_pre(self) -> int:
        """C_in · H · W."""
        return int(np.prod(self.in_shape))

    @property
    def n_out(self) -> int:
        """C_out · H_out · W_out."""
        return int(np.prod(self.out_shape))

    @property
    def c_in_per_group(self) -> int:
        """Input channels each output channel reads."""
        return self.in_shape[0] // self.groups

    def as_array(self) -> np.ndarray:
        """``[H, W, H_out, W_out, s_h, s_w, p_h, p_w]`` as int64, the layout the cpu
        event kernels take."""
        _, h, w = self.in_shape
        _, h_out, w_out = self.out_shape
        return np.array([h, w, h_out, w_out, *self.stride, *self.padding], dtype=np.int64)

    # -- taps ---------------------------------------------------------------------------
    def _axis(self, axis: int) -> tuple[int, int, int, int, int, int]:
        """(n, k, stride, padding, n_out, dilation) along ``axis`` (0: rows, 1: columns)."""
        return (
            self.in_shape[1 + axis],
            self.kernel[axis],
            self.stride[axis],
            self.padding[axis],
            self.out_shape[1 + axis],
            self.dilation[axis],
        )

    def tap_outputs(self, axis: int) -> np.ndarray:
        """:func:`tap_outputs` along ``axis`` (0: rows, 1: columns), shape (k, n)."""
        return tap_outputs(*self._axis(axis))

    def window_inputs(self, axis: int) -> np.ndarray:
        """:func:`window_inputs` along ``axis``, shape (n_out, k)."""
        return window_inputs(*self._axis(axis))

    def input_channel(self) -> np.ndarray:
        """Global input channel read by kernel slice [o, i], int64 of shape (C_out, C_in/g)."""
        og = self.c_out // self.groups
        cg = self.c_in_per_group
        return (np.arange(self.c_out)[:, None] // og) * cg + np.arange(cg)[None, :]

    # -- counts -------------------------------------------------------------------------
    def per_input_channel(self, mask: np.ndarray) -> np.ndarray:
        """Kernel-shaped counts (C_out, C_in/g, kh, kw) summed over the output channels
        that read each input channel → (C_in, kh, kw), int64."""
        g = self.groups
        mask = np.asarray(mask)
        per_group = mask.reshape(g, self.c_out // g, *mask.shape[1:]).sum(axis=1)
        return per_group.reshape(-1, *mask.shape[2:]).astype(np.int64)

    def fanout(self, kernel_mask: np.ndarray) -> np.ndarray:
        """Connections per pre-synaptic unit, exact at the borders.

        Parameters
        ----------
        kernel_mask : ndarray of bool, shape (C_out, C_in/g, kh, kw)
            Which kernel weights count (all of them, or the non-zero ones).

        Returns
        -------
        ndarray of int64, shape (n_pre,)
            For unit (c, y, x): the counted weights of the taps that land on an output
            position (taps on padding are not connections).
        """
        per_tap = self.per_input_channel(kernel_mask)
        vy = (self.tap_outputs(0) >= 0).astype(np.int64)
        vx = (self.tap_outputs(1) >= 0).astype(np.int64)
        return np.einsum("ckl,ky,lx->cyx", per_tap, vy, vx).astype(np.int64).ravel()

    def connections(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every connection of the convolution, zero weights included.

        Returns
        -------
        pre, post, weight_index : ndarray of int64, shape (n_connections,)
            Pre-synaptic unit, port entry and flat index into the kernel
            (C_out, C_in/g, kh, kw) of each connection; ordered by kernel weight, then
            by output position.  ``np.bincount(pre)`` equals :meth:`fanout` of an
            all-true mask.
        """
        c_in, h, w = self.in_shape
        _, h_out, w_out = self.out_shape
        kh, kw = self.kernel
        cg = self.c_in_per_group
        co, ci, ky, kx = (a.ravel() for a in np.indices((self.c_out, cg, kh, kw)))
        cin = self.input_channel()[co, ci]
        iy = self.window_inputs(0)[:, ky].T  # (taps, H_out)
        ix = self.window_inputs(1)[:, kx].T  # (taps, W_out)
        iy = np.repeat(iy, w_out, axis=1)  # (taps, H_out * W_out)
        ix = np.tile(ix, (1, h_out))
        valid = (iy >= 0) & (ix >= 0)
        pre = (cin[:, None] * h + iy) * w + ix
        oy, ox = (a.ravel() for a in np.indices((h_out, w_out)))
        post = co[:, None] * (h_out * w_out) + oy[None, :] * w_out + ox[None, :]
        widx = np.broadcast_to(np.arange(co.size)[:, None], valid.shape)
        return pre[valid], post[valid], widx[valid]

    # -- dense products -----------------------------------------------------------------
    def pad(self, x: np.ndarray) -> np.ndarray:
        """(B, n_pre) → zero-padded (B, C_in, H + 2 p_h, W + 2 p_w)."""
        c_in, h, w = self.in_shape
        (ph, pw) = self.padding
        x = x.reshape(-1, c_in, h, w)
        return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))

    def tap_patch(self, padded: np.ndarray, ky: int, kx: int) -> np.ndarray:
        """Inputs read by tap (ky, kx) at every output position: (B, C_in, H_out, W_out)."""
        _, h_out, w_out = self.out_shape
        (sh, sw), (dh, dw) = self.stride, self.dilation
        y0, x0 = ky * dh, kx * dw
        return padded[
            :, :, y0 : y0 + sh * (h_out - 1) + 1 : sh, x0 : x0 + sw * (w_out - 1) + 1 : sw
        ]

    def windows(self, padded: np.ndarray) -> np.ndarray:
        """Strided view of every window: (B, C_in, H_out, W_out, kh, kw) (no copy)."""
        _, h_out, w_out = self.out_shape
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
        win = sliding_window_view(padded, span, axis=(2, 3))[:, :, ::sh, ::sw]
        return win[:, :, :h_out, :w_out, ::dh, ::dw]

    def correlate(self, x: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """Batched convolution as one product over the window view (dtype of the inputs).

        Parameters
        ----------
        x : ndarray, shape (B, n_pre)
        weight : ndarray, shape (C_out, C_in/g, kh, kw)

        Returns
        -------
        ndarray, shape (B, n_out)
        """
        b = x.shape[0]
        win = self.windows(self.pad(x))
        g = self.groups
        if g == 1:
            out = np.tensordot(win, weight, axes=([1, 4, 5], [1, 2, 3]))  # (B, Ho, Wo, C_out)
            return np.ascontiguousarray(out.transpose(0, 3, 1, 2)).reshape(b, -1)
        _, h_out, w_out = self.out_shape
        kh, kw = self.kernel
        og, cg = self.c_out // g, self.c_in_per_group
        win = win.reshape(b, g, cg, h_out, w_out, kh, kw)
        wg = weight.reshape(g, og, cg, kh, kw)
        out = np.einsum("bgchwkl,gockl->bgohw", win, wg, optimize=True)
        return out.reshape(b, -1)
