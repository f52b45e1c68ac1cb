"""Keras recurrent models for federated training (wrapped by tasks as TFF models)."""

# Before any model is built: scripts that import TensorFlow inside absl's
# app.run would otherwise build Keras models as v1 graphs (see the module).
from tff_lstm.runtime import eager_context  # pylint: disable=unused-import
