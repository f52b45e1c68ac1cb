"""Next-token language models: McMahan et al. 2017 (chars), Reddi et al. 2021 (words)."""

from typing import Optional

import tensorflow as tf

from tff_lstm.models import recurrent


def build_char_lm(vocab_size: int, *, embedding_dim: int = 8, units: int = 256,
                  num_layers: int = 2, cell_type: str = 'lstm',
                  sequence_length: Optional[int] = None,
                  seed: Optional[int] = None) -> tf.keras.Model:
  """Embedding 8 -> 2 x LSTM 256 -> Dense(vocab): the Shakespeare model."""
  inputs, x = recurrent.token_encoder(
      vocab_size, embedding_dim, cell_type, units, num_layers,
      return_sequences=True, sequence_length=sequence_length, seed=seed)
  logits = tf.keras.layers.Dense(vocab_size, name='logits')(x)
  return tf.keras.Model(inputs, logits, name=f'char_lm_{cell_type}')


def build_word_lm(vocab_size: int, *, embedding_dim: int = 96,
                  units: int = 670, num_layers: int = 1,
                  cell_type: str = 'lstm',
                  sequence_length: Optional[int] = None,
                  seed: Optional[int] = None) -> tf.keras.Model:
  """Embedding 96 -> LSTM 670 -> Dense 96 -> Dense(vocab): Reddi et al. 2021.

  `vocab_size` counts every id the model predicts (words, pad, OOV, BOS, EOS).
  """
  inputs, x = recurrent.token_encoder(
      vocab_size, embedding_dim, cell_type, units, num_layers,
      return_sequences=True, sequence_length=sequence_length, seed=seed)
  x = tf.keras.layers.Dense(embedding_dim, name='projection')(x)
  logits = tf.keras.layers.Dense(vocab_size, name='logits')(x)
  return tf.keras.Model(inputs, logits, name=f'word_lm_{cell_type}')
