"""Shared word-LM pieces: ids, model size, accuracy that skips padding."""

import pytest
import tensorflow as tf

from tff_lstm.tasks import model_config
from tff_lstm.tasks import word_lm

_VOCAB = ['the', 'and', 'i']


def test_special_ids_follow_tff_stack_overflow():
  special = word_lm.special_tokens(_VOCAB)
  assert (special.padding, special.out_of_vocab,
          special.beginning_of_sentence, special.end_of_sentence) == (
              0, [4], 5, 6)
  assert word_lm.model_vocab_size(_VOCAB) == 7  # Pad, 3 words, OOV, BOS, EOS.


def test_default_model_is_reddi_et_al():
  model = word_lm.create_keras_model(model_config.ModelConfig(), 7, 20)
  shapes = {layer.name: layer.get_weights()[0].shape
            for layer in model.layers if layer.get_weights()}
  assert shapes['embedding'] == (7, 96)
  assert shapes['lstm_0'] == (96, 4 * 670)
  assert shapes['projection'] == (670, 96)
  assert shapes['logits'] == (96, 7)
  assert model.output_shape == (None, 20, 7)


def test_accuracies_skip_pad_then_oov_then_eos():
  accuracy, without_oov, without_eos = (
      fn() for fn in word_lm.metrics_fns(word_lm.special_tokens(_VOCAB)))
  # Labels: word 1, OOV 4, EOS 6, then padding. Predicted: all correct
  # except the word, and padding "predicted" perfectly.
  y_true = tf.constant([[1, 4, 6, 0, 0, 0]], tf.int64)
  y_pred = tf.one_hot([[2, 4, 6, 0, 0, 0]], 7)
  for metric in (accuracy, without_oov, without_eos):
    metric.update_state(y_true, y_pred)
  assert accuracy.name == 'accuracy'
  assert accuracy.result().numpy() == pytest.approx(2 / 3)  # Not 5/6.
  assert without_oov.name == 'accuracy_without_oov'
  assert without_oov.result().numpy() == pytest.approx(1 / 2)
  assert without_eos.name == 'accuracy_without_oov_or_eos'
  assert without_eos.result().numpy() == pytest.approx(0.0)


@pytest.mark.parametrize('vocab_size,sequence_length', [(0, 20), (10, 0)])
def test_bad_sizes(vocab_size, sequence_length):
  with pytest.raises(ValueError, match='must be >= 1'):
    word_lm.check_sizes(vocab_size, sequence_length)
