"""`connect-sim serve` with a SIGKILL planted at one point of the code, for the crash tests.

    CRASH_AT=module:function,N,before|after python tests/crash_serve.py serve --db …

The process kills itself (SIGKILL, as kill -9 would) just before or just after the N-th
call of `module.function`; nothing else differs from `connect-sim serve`. The product
has no switch for this: the runner wraps the function from outside.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from typing import Any


def plant(target: str, nth: int, when: str) -> None:
    module_name, name = target.split(":")
    module = importlib.import_module(module_name)
    real = getattr(module, name)
    calls = [0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        hit = calls[0] == nth
        if hit and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = real(*args, **kwargs)
        if hit and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(module, name, wrapper)


if __name__ == "__main__":
    target, nth, when = os.environ["CRASH_AT"].split(",")
    plant(target, int(nth), when)
    from simulator.cli import main

    sys.argv = ["connect-sim", *sys.argv[1:]]
    main()
