"""A tight numeric loop: line events with almost no calls, as in number crunching.

A Mandelbrot escape-time count over a grid, with the inner iteration written out in
plain floats, so the cost per line step (and per captured local) dominates.
"""


def escape_time(cr: float, ci: float, limit: int) -> int:
    """Iterations before z = z*z + c leaves the radius-2 disc (at most ``limit``)."""
    zr = 0.0
    zi = 0.0
    n = 0
    while n < limit:
        zr2 = zr * zr
        zi2 = zi * zi
        if zr2 + zi2 > 4.0:
            break
        zi = 2.0 * zr * zi + ci
        zr = zr2 - zi2 + cr
        n += 1
    return n


def run(scale: float) -> int:
    """Sum the escape times over a grid whose side grows with the scale."""
    side = max(4, round(290 * scale**0.5))
    total = 0
    for row in range(side):
        ci = -1.2 + 2.4 * row / side
        for column in range(side):
            cr = -2.0 + 2.6 * column / side
            total += escape_time(cr, ci, 60)
    return total
