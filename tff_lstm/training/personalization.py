"""Personalization evaluation: fine-tune the global model on each client's own
train data, then compare test metrics before and after, with TFF's
`build_personalization_eval_computation`.
"""

import collections
from collections.abc import Sequence

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.tasks import task as task_lib


def _evaluate(model: tff.learning.models.VariableModel, batches):
  """Test metrics of `model` on `batches`, finalized by the model's finalizers."""
  model.reset_metrics()
  for batch in batches:
    model.forward_pass(batch, training=False)
  unfinalized = model.report_local_unfinalized_metrics()
  finalizers = model.metric_finalizers()
  return collections.OrderedDict(
      (name, finalizers[name](unfinalized[name])) for name in unfinalized)


def build_personalization_eval(task: task_lib.Task, *, batch_size: int,
                               epochs: int, learning_rate: float,
                               max_num_clients: int):
  """The TFF computation <model_weights@SERVER, data@CLIENTS> -> metrics@SERVER."""

  def finetune_fn():
    @tf.function
    def finetune_and_evaluate(model, train_data, test_data):
      for _ in tf.range(epochs):
        for batch in train_data.batch(batch_size):
          with tf.GradientTape() as tape:
            loss = model.forward_pass(batch, training=True).loss
          grads = tape.gradient(loss, model.trainable_variables)
          for var, grad in zip(model.trainable_variables, grads):
            if grad is not None:  # embeddings give IndexedSlices
              var.assign_sub(learning_rate * tf.convert_to_tensor(grad))
      return _evaluate(model, test_data.batch(batch_size))
    return finetune_and_evaluate

  @tf.function
  def baseline_evaluate(model, data):
    return _evaluate(model, data.batch(batch_size))

  return tff.learning.algorithms.build_personalization_eval_computation(
      task.model_fn,
      personalize_fn_dict=collections.OrderedDict(finetuned=finetune_fn),
      baseline_evaluate_fn=baseline_evaluate,
      max_num_clients=max_num_clients)


def client_inputs(task: task_lib.Task, client_ids: Sequence[str]):
  """Per client: its own train data to fine-tune on, its test data to score.

  The datasets are preprocessed with the evaluation function and unbatched, as
  TFF's personalization computation expects.
  """
  preprocess = task.datasets.eval_preprocess_fn
  return [
      collections.OrderedDict(
          train_data=preprocess(
              task.datasets.train_data.create_tf_dataset_for_client(cid)
          ).unbatch(),
          test_data=preprocess(
              task.datasets.test_data.create_tf_dataset_for_client(cid)
          ).unbatch())
      for cid in client_ids
  ]


def summarize(metrics) -> dict[str, float]:
  """Mean over clients of each metric, before ('baseline') and after fine-tuning."""
  summary = {}
  for strategy in ('baseline_metrics', 'finetuned'):
    for name, values in metrics[strategy].items():
      summary[f'{strategy}/{name}'] = float(np.mean(values))
  return summary
