"""What the terminal shows: the round bar or lines, and the steps after them."""

import asyncio
import fcntl
import io
import os
import struct
import termios

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.tasks import task as task_lib
from tff_lstm.training import evaluation
from tff_lstm.training import progress


def _round(round_num, test_accuracy=None, **train):
  value = {'client_work': {'train': dict(
      {'loss': 3.5, 'accuracy': 0.12, 'num_examples': 40}, **train)},
           'training_time_in_seconds': 2.5}
  if test_accuracy is not None:
    value['evaluation'] = {'test': {'accuracy': test_accuracy, 'loss': 3.2}}
  return value


def _release(manager, value, key):
  asyncio.run(manager.release(value, key=key))


@pytest.fixture
def pty_of_width():
  """A real pseudo-terminal reporting `columns` columns (0: no size)."""
  opened = []

  def make(columns):
    main, child = os.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ,
                struct.pack('HHHH', 0 if columns == 0 else 24, columns, 0, 0))
    stream = os.fdopen(child, 'w')
    opened.append((main, stream))
    return stream

  yield make
  for main, stream in opened:
    stream.close()
    os.close(main)


def test_a_terminal_without_columns_gets_lines_not_an_empty_bar(pty_of_width):
  assert progress.progress_enabled(True, pty_of_width(120))
  zero = pty_of_width(0)
  assert zero.isatty() and not progress.progress_enabled(True, zero)
  assert not progress.progress_enabled(False, pty_of_width(120))
  assert not progress.progress_enabled(True, io.StringIO())
  # And the fallback it gets does print, one line a round.
  lines = io.StringIO()
  manager = progress.ProgressReleaseManager(
      2, bar=progress.progress_enabled(True, zero), stream=lines)
  _release(manager, _round(1), 1)
  assert lines.getvalue() == 'round 1/2: loss=3.5 acc=0.12 s/round=2.5\n'


def test_a_test_metric_in_the_bar_names_its_round():
  bar = io.StringIO()
  manager = progress.ProgressReleaseManager(5, bar=True, stream=bar)
  _release(manager, {'evaluation': {'test': {'accuracy': 0.0078,
                                             'loss': 4.5}}}, 0)
  _release(manager, _round(1), 1)
  assert manager.shown['test_acc'] == '0.0078 (round 0)'
  assert 'test_acc=0.0078 (round 0)' in bar.getvalue()
  _release(manager, _round(2, test_accuracy=0.16), 2)
  assert manager.shown['test_acc'] == '0.16 (round 2)'
  manager.close()


def test_each_task_shows_its_own_metric():
  forecast = progress.shown_fields(progress.flatten({
      'client_work': {'train': {'loss': 38988.2, 'mean_absolute_error': 180.5,
                                'num_examples': 3, 'num_batches': 1}},
      'evaluation': {'test': {'loss': 38988.18,
                              'mean_absolute_error': 179.9}}}), 7)
  assert forecast == {'loss': '3.899e+04', 'mae': '180.5',
                      'test_mae': '179.9 (round 7)'}
  centralized = progress.shown_fields(progress.flatten({
      'train': {'loss': 2.0, 'accuracy': 0.4,
                'accuracy_without_oov_or_eos': 0.39},
      'evaluation': {'test': {'accuracy': 0.41, 'loss': 2.1}}}), None)
  assert centralized == {'loss': '2', 'acc': '0.4', 'test_acc': '0.41'}
  loss_only = progress.shown_fields(
      {'evaluation/test/loss': 1.5, 'privacy/epsilon': 3.0}, 4)
  assert loss_only == {'test_loss': '1.5 (round 4)', 'eps': '3'}


def test_a_step_after_the_rounds_says_what_and_how_long():
  out = io.StringIO()
  steps = progress.FinalSteps(bar=False, stream=out)
  with steps.step('saving the checkpoint of round 5'):
    pass
  first, second = out.getvalue().splitlines()
  assert first == 'saving the checkpoint of round 5 ...'
  assert second.startswith('saving the checkpoint of round 5: done in ')


def _keras_task():
  """The smallest real task evaluate() needs: a compiled Keras model."""
  def model_fn():
    return tf.keras.Sequential([tf.keras.layers.Dense(
        1, input_shape=(2,), kernel_initializer='ones')])
  return task_lib.Task(
      name='tiny', datasets=None, keras_model_fn=model_fn,
      loss_fn=tf.keras.losses.MeanSquaredError,
      metrics_fns=[lambda: tf.keras.metrics.MeanAbsoluteError(
          name='mean_absolute_error')])


@pytest.mark.parametrize('bar', [False, True])
def test_the_final_evaluation_shows_its_batches(bar):
  task = _keras_task()
  x = np.arange(14, dtype=np.float32).reshape(7, 2)
  # flat_map hides the length from tf.data, as the pooled test split does.
  dataset = tf.data.Dataset.range(1).flat_map(
      lambda _: tf.data.Dataset.from_tensor_slices((x, x[:, :1]))).batch(2)
  out = io.StringIO()
  steps = progress.FinalSteps(bar=bar, stream=out)
  callback = steps.evaluation_callback('evaluating the final model', dataset)
  evaluate = evaluation.build_evaluation_fn(
      task, lambda state: state, dataset, prefix='final_test',
      callbacks=[callback])
  weights = tff.learning.models.ModelWeights.from_model(
      task.keras_model_fn())
  metrics = evaluate(weights)
  assert set(metrics['final_test']) == {'loss', 'mean_absolute_error'}
  text = out.getvalue()
  assert text.splitlines()[-1].startswith(
      'evaluating the final model: done, 4 batches in ')
  if bar:
    assert '4/4' in text  # counted first, so the bar has an end
  else:
    assert text.splitlines()[0] == 'evaluating the final model ...'
