"""Mends TF 2.14's eager context when TensorFlow is first imported in `app.run`.

`import tensorflow` registers `absl.app.call_after_init(...)` in
tensorflow/python/distribute/combinations.py. Before `app.run` that callback is
deferred; inside `app.run`'s main it runs at once, mid-import, and creates the
eager `Context` while `default_execution_mode` is still graph mode. The
Context's thread-local stack of context switches then starts empty instead of
with its eager entry, so `init_scope` falls back to a v1 graph: `keras.Input`
returns a placeholder instead of a KerasTensor, functional models are built as
v1 graphs, and layers that run eagerly on symbolic tensors (our FusedLSTM's
TensorArray) fail with "'SymbolicTensor' object cannot be interpreted as an
integer". Importing TensorFlow at module top avoids it, and so does
TF2_BEHAVIOR=1 in the environment (TensorFlow sets it for its child processes);
this module repairs it for scripts that import lazily.
"""

from tensorflow.python.eager import context  # pylint: disable=g-direct-tensorflow-import


def context_was_created_in_graph_mode() -> bool:
  """True when the process is eager but its context lacks the eager entry.

  Inside any `with graph.as_default()` or function trace the stack is not
  empty, so this is only true in the broken state described above.
  """
  return (context.default_execution_mode == context.EAGER_MODE and
          not context.context().context_switches.stack)


def ensure_eager_context() -> None:
  """Gives the context the switch stack it would have had (every thread)."""
  if context_was_created_in_graph_mode():
    # pylint: disable=protected-access
    context.context()._context_switches = context._ContextSwitchStack(True)


ensure_eager_context()
