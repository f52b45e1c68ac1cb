"""Sequence classifier (e.g. sentiment): tokens -> recurrent encoder -> class logits."""

from typing import Optional

import tensorflow as tf

from tff_lstm.models import recurrent


def build_sequence_classifier(vocab_size: int, num_classes: int, *,
                              embedding_dim: int = 64, units: int = 128,
                              num_layers: int = 1, cell_type: str = 'lstm',
                              sequence_length: Optional[int] = None,
                              seed: Optional[int] = None) -> tf.keras.Model:
  if num_classes < 2:
    raise ValueError(f'A classifier needs >= 2 classes, got {num_classes}.')
  inputs, x = recurrent.token_encoder(
      vocab_size, embedding_dim, cell_type, units, num_layers,
      return_sequences=False, sequence_length=sequence_length, seed=seed)
  logits = tf.keras.layers.Dense(num_classes, name='logits')(x)
  return tf.keras.Model(inputs, logits, name=f'classifier_{cell_type}')


def build_signal_classifier(length: int, num_features: int, num_classes: int,
                            *, units: int = 32, num_layers: int = 1,
                            cell_type: str = 'gru',
                            seed: Optional[int] = None) -> tf.keras.Model:
  """Readings [length, num_features] -> recurrent encoder -> class logits."""
  if num_classes < 2:
    raise ValueError(f'A classifier needs >= 2 classes, got {num_classes}.')
  if seed is not None:
    tf.keras.utils.set_random_seed(seed)
  inputs = tf.keras.Input(shape=(length, num_features), dtype=tf.float32)
  x = recurrent.recurrent_stack(inputs, cell_type, units, num_layers,
                                return_sequences=False)
  logits = tf.keras.layers.Dense(num_classes, name='logits')(x)
  return tf.keras.Model(inputs, logits, name=f'signal_classifier_{cell_type}')
