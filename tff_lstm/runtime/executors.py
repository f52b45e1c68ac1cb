"""TFF executor factories whose executors talk to one of our workers."""

import tensorflow_federated as tff


def executor_factory(worker, executor_cls=tff.framework.RemoteExecutor):
  """A TFF executor factory whose executors talk to `worker`.

  `worker` is anything with a `stub()` method that returns a ready
  `tff.framework.RemoteExecutorStub`: a `LocalWorker`, or a connection to a
  worker on another host (remote.py, which passes its own executor class).
  """

  def stack_fn(cardinalities):
    # Computations with no clients-placed argument (e.g. initialize) still
    # need a clients cardinality; TFF's own factory defaults it to 0 too.
    cardinalities.setdefault(tff.CLIENTS, 0)
    executor = executor_cls(worker.stub())
    executor.set_cardinalities(cardinalities)
    return executor

  return tff.framework.ResourceManagingExecutorFactory(executor_stack_fn=stack_fn)
