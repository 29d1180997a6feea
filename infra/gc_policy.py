"""The cyclic garbage collector while a Pulumi program is evaluated: full collections made rare.

Why: evaluating a stack builds a large, long-lived heap (every resource's inputs, its `Output`s,
their futures and callbacks, pulumi_aws's own classes) that stays alive until the program ends.
CPython's collector runs a full (generation 2) collection whenever enough objects have survived
into the old generation, and each one walks the whole heap: the more endpoints a stack has, the
longer each walk, so the cost per endpoint grows with the stack instead of staying flat.
Measured with `bench/bench_program.py` (gc.callbacks), before this: 3 / 5 / 11 full collections
at 1 / 10 / 50 canary endpoints, about half of the 50-endpoint evaluation spent in the collector,
which freed almost nothing (the objects are alive until the end anyway).

What: `gc.freeze()` first (everything alive at that point, mostly imported modules and classes,
moves to the permanent generation, which no collection walks), then the third threshold raised
from CPython's 10 to `FULL_EVERY` (a full collection after that many generation-1 collections
instead of 10). Young collections run as before, so short-lived cycles are still freed
promptly; only the walks over the long-lived heap become rare.

Memory cost: cyclic garbage that reaches the old generation lives up to `FULL_EVERY / 10` times
longer before it is freed. Evaluating a stack makes little of it; `bench/bench_program.py`
prints the peak RSS of both sides (product and a hand-written program) and the difference is
within a few MiB (bench/README.md). Frozen objects are never freed while frozen: they are the
ones alive at the start, which a program keeps to its end anyway.

Who gets it:
- the project's own program (`__main__.py`, a process the Pulumi language host starts for one
  evaluation) calls `for_this_program()` once and keeps it to the end of the process;
- the offline runner (`simulator.mockrun.run_offline`, what `rollout plan` and the tests use) wraps
  each run in `rare_full_collections()` and restores the caller's settings afterwards;
- the `rollout` console script (`cli/main.py`: a process that runs one command and ends) calls
  `for_this_command()` before anything is imported: a `rollout plan` loads pulumi, nine
  pulumi_aws service packages, pydantic and the config model, and the collector ran two full
  collections over that growing heap during the imports, 0.16 s of a 1.3 s command, freeing
  nothing (bench/bench_cli.py). `main(argv)` called as a function (tests, other programs) leaves
  its host process alone;
- a user's own program that declares the `RolloutEndpoint` component is NOT changed: the
  component never touches the collector (a library must not retune its host process behind its
  back). The README shows the two lines a user can put at the top of their `__main__.py` to get
  the same effect (`from sagemaker_rollouts.infra.gc_policy import for_this_program`).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

FULL_EVERY = 1000
"""Generation-1 collections between two full collections while a program is evaluated
(CPython's default is 10)."""


def for_this_program() -> None:
    """Make full collections rare for the rest of this process (a Pulumi program's process).

    Call it once, first thing in a program's `__main__.py`. Idempotent; never lowers a third
    threshold someone already raised.
    """
    gc.freeze()
    first, second, third = gc.get_threshold()
    gc.set_threshold(first, second, max(third, FULL_EVERY))


def for_this_command() -> None:
    """Make full collections rare for the rest of this process (a `rollout` command's process):
    the third threshold raised as in `for_this_program`, nothing frozen (called before the
    imports, there is nothing worth freezing yet; an offline run freezes its own heap). Never
    lowers a third threshold someone already raised."""
    first, second, third = gc.get_threshold()
    gc.set_threshold(first, second, max(third, FULL_EVERY))


@contextmanager
def rare_full_collections() -> Iterator[None]:
    """`for_this_program` for the length of the block only; the caller's thresholds (and its
    frozen objects, moved back to the oldest generation) are restored afterwards."""
    before = gc.get_threshold()
    caller_froze = gc.get_freeze_count() > 0  # then the caller owns the permanent generation
    for_this_program()
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if not caller_froze:
            gc.unfreeze()
