"""Array views without reference counting for the compiled kernels (numba)."""

from __future__ import annotations

from numba import carray, njit, types
from numba.extending import intrinsic

__all__ = ["pointer_like", "row_view"]


@intrinsic
def pointer_like(typingctx, address, like):
    """Typed data pointer at integer ``address``, of the dtype of the array ``like``."""
    ptr_type = types.CPointer(like.dtype)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(ptr_type))

    return ptr_type(address, like), codegen


@njit(cache=True, nogil=True, inline="always")
def row_view(array, offset, n):
    """``array.ravel()[offset : offset + n]`` as a view without reference counting
    (the caller keeps ``array`` alive), indexed from 0 so loops over it vectorise."""
    return carray(pointer_like(array.ctypes.data + offset * array.itemsize, array), n)
