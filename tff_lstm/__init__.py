"""Federated recurrent models on TensorFlow Federated."""
