"""How fast is each convolution of cnncourse.layers, against F.conv2d?

    python benchmarks/conv_im2col.py [--repeats 15] [--batch 32]

Times ``conv2d_loops``, ``conv2d_im2col`` and ``F.conv2d`` on x = (N, 16, 32, 32) with 32
filters of 3 x 3 and padding 1 (median of interleaved repeats, default torch threads), prints a
table, and ends with the line ``conv_im2col: <ratio>x of F.conv2d (target <= 5x)``.
The loops version gets a smaller batch (it is ~100x slower); its time is per sample, so
compare the "ms / sample" column.

Numbers for notebooks/02_convolution.ipynb, which times its own (smaller) examples.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from cnncourse.layers import conv2d_im2col, conv2d_loops

__all__ = ["benchmark_convs", "main"]

TARGET_RATIO = 5.0


def _time_once(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _interleaved_seconds(fns: dict, repeats: int, warmup: int = 2) -> dict[str, list[float]]:
    """Wall times of each ``fn()``, ``repeats`` rounds, every round running each fn once in turn.

    Interleaving makes background load (a shared laptop, a CI box) hit every function
    alike, so their ratio stays meaningful even when the absolute times move.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()  # first calls allocate and pick kernels; not what we want to measure
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(_time_once(fn))
    return times


def benchmark_convs(
    batch: int = 32,
    in_channels: int = 16,
    out_channels: int = 32,
    size: int = 32,
    kernel_size: int = 3,
    padding: int = 1,
    repeats: int = 15,
    loops_batch: int = 2,
    loops_repeats: int = 3,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Median time of each convolution: ``{name: {"batch": N, "ms": ..., "ms_per_sample": ...}}``.

    ``results["conv2d_im2col"]["ratio_to_conv2d"]`` is the median, over interleaved rounds,
    of im2col's time divided by ``F.conv2d``'s on the same input.

    Inputs x (N, C_in, size, size) and weight (C_out, C_in, K, K) are drawn once from ``seed``;
    the loops version runs on the first ``loops_batch`` samples only. Also checks that the
    from-scratch outputs match ``F.conv2d`` before timing them.
    """
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, in_channels, size, size, generator=generator)
    weight = torch.randn(out_channels, in_channels, kernel_size, kernel_size, generator=generator)
    bias = torch.randn(out_channels, generator=generator)
    x_small = x[:loops_batch]

    expected = F.conv2d(x, weight, bias, padding=padding)
    # float32 sums of C_in*K*K products in a different order: agree to ~1e-5 relative.
    torch.testing.assert_close(conv2d_im2col(x, weight, bias, padding=padding), expected, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(
        conv2d_loops(x_small, weight, bias, padding=padding), expected[:loops_batch], rtol=1e-4, atol=1e-4
    )

    with torch.no_grad():  # inference timing: no graph to build
        fast = _interleaved_seconds(
            {
                "F.conv2d": lambda: F.conv2d(x, weight, bias, padding=padding),
                "conv2d_im2col": lambda: conv2d_im2col(x, weight, bias, padding=padding),
            },
            repeats,
        )
        slow = _interleaved_seconds(
            {"conv2d_loops": lambda: conv2d_loops(x_small, weight, bias, padding=padding)}, loops_repeats, warmup=1
        )
    results = {}
    for name, times in {**fast, **slow}.items():
        n = loops_batch if name == "conv2d_loops" else batch
        seconds = statistics.median(times)
        results[name] = {"batch": n, "ms": seconds * 1e3, "ms_per_sample": seconds * 1e3 / n}
    # Median of per-round ratios: robust to load that changes between rounds.
    ratios = [a / b for a, b in zip(fast["conv2d_im2col"], fast["F.conv2d"])]
    results["conv2d_im2col"]["ratio_to_conv2d"] = statistics.median(ratios)
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per convolution (median reported)")
    parser.add_argument("--batch", type=int, default=32, help="N for F.conv2d and conv2d_im2col")
    args = parser.parse_args(argv)

    results = benchmark_convs(batch=args.batch, repeats=args.repeats)
    print(f"x = ({args.batch}, 16, 32, 32), weight = (32, 16, 3, 3), padding 1; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'function':<15} {'batch':>5} {'ms':>10} {'ms / sample':>12} {'x F.conv2d':>11}")
    reference = results["F.conv2d"]["ms_per_sample"]
    for name, r in results.items():
        print(f"{name:<15} {r['batch']:>5} {r['ms']:>10.2f} {r['ms_per_sample']:>12.3f} {r['ms_per_sample'] / reference:>10.1f}x")
    loops = results["conv2d_loops"]
    print(f"(conv2d_loops ran on a smaller input, batch {loops['batch']}: compare ms / sample)")
    ratio = results["conv2d_im2col"]["ratio_to_conv2d"]
    print(f"conv_im2col: {ratio:.2f}x of F.conv2d (target <= {TARGET_RATIO:g}x)")


if __name__ == "__main__":
    main()
