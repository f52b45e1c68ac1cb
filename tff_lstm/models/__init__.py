"""Keras recurrent models for federated training (wrapped by tasks as TFF models)."""
