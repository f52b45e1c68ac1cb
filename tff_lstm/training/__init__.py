"""The experiment loop: sampling, evaluation, outputs, checkpoint/resume."""
