"""numba kernels over plain numpy arrays.

This package never imports ``tracer``: kernels see only contiguous arrays (ids, timestamps,
float64 amounts, CSR offsets) so they can be tested, benchmarked and reused on their own.
Every public function validates its inputs and allocates outputs, then calls a private
``@njit(cache=True)`` kernel (the shape stumpy uses).
"""
