"""Federated algorithms: TFF LearningProcesses composed from TFF building blocks."""
