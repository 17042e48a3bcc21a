"""Calling user functions that may be sync or async."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from .pools import UserPool


async def call_user(function: Callable[..., Any], *args: Any, pool: Executor | None) -> Any:
    """Await an async function; run a sync one in ``pool`` (inline when ``pool`` is None).

    A sync function that returns an awaitable has that awaited too.
    """
    if inspect.iscoroutinefunction(function):
        return await function(*args)
    if pool is None:
        result = function(*args)
    elif isinstance(pool, UserPool):  # at run time: refused rather than queued behind hung calls
        result = await pool.run(function, *args)
    else:
        result = await asyncio.get_running_loop().run_in_executor(pool, function, *args)
    if inspect.isawaitable(result):
        result = await result
    return result
