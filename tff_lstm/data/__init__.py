"""Federated data sets: built offline, stored in TFF's `SqlClientData` format.

Submodules are imported on demand (`from tff_lstm.data import shakespeare`) so
that building or checking a database does not pay for importing TensorFlow.
"""
