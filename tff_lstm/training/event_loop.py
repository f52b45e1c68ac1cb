"""Runs `tff.program` coroutines from synchronous code."""

import asyncio


def run(coroutine):
  """Runs on the thread's event loop, the one TFF's training loop also uses.

  Not `asyncio.run`: that closes the loop and unsets it, after which TFF's
  `asyncio.get_event_loop()` fails.
  """
  try:
    loop = asyncio.get_event_loop()
  except RuntimeError:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
  return loop.run_until_complete(coroutine)
