"""Acquire loads and release stores of one array element, for threads that hand work to each other.

Numba has no atomics on the CPU, and a plain load in a waiting loop is hoisted out of
it by LLVM (the loop then never ends). These two intrinsics emit LLVM's atomic load and
store, so a thread can publish a counter after writing its results (release) and another
can wait for it and then read those results (acquire). They are the one exception to
"only ``@njit`` functions" in ``kernels/``: an ``@njit`` function cannot emit an atomic.
"""
import platform

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


def _element_pointer(context, builder, aryty, ary, index):
    return cgutils.get_item_pointer(context, builder, aryty, context.make_array(aryty)(context, builder, ary), [index])


@intrinsic
def load_acquire(typingctx, array, index):
    """``array[index]`` read with acquire ordering (``array`` 1-D int64, ``index`` an integer)."""
    if not (isinstance(array, types.Array) and array.ndim == 1 and array.dtype == types.int64
            and isinstance(index, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        ptr = _element_pointer(context, builder, signature.args[0], args[0], args[1])
        return builder.load_atomic(ptr, "acquire", 8)

    return types.int64(array, index), codegen


@intrinsic
def store_release(typingctx, array, index, value):
    """``array[index] = value`` written with release ordering (``array`` 1-D int64)."""
    if not (isinstance(array, types.Array) and array.ndim == 1 and array.dtype == types.int64
            and isinstance(index, types.Integer) and isinstance(value, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        ptr = _element_pointer(context, builder, signature.args[0], args[0], args[1])
        val = context.cast(builder, args[2], signature.args[2], types.int64)
        builder.store_atomic(val, ptr, "release", 8)
        return context.get_dummy_value()

    return types.void(array, index, value), codegen


@intrinsic
def spin_pause(typingctx):
    """Tell the core this is a waiting loop (x86 ``pause``): it then spins without flooding the
    memory system with speculative loads or starving a hyper-thread that shares the core."""

    def codegen(context, builder, signature, args):
        if platform.machine().lower() in ("x86_64", "amd64", "i386", "i686"):
            pause = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), []),
                                                   "llvm.x86.sse2.pause")
            builder.call(pause, [])
        return context.get_dummy_value()

    return types.void(), codegen
