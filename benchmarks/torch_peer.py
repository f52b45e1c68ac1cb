"""The PyTorch peer of the round benchmark (runs in benchmarks/.venv-torch).

The same model (Embedding 8 -> 2 x LSTM 256 -> Linear over the vocabulary),
loss (cross-entropy over non-padding tokens, mean per batch) and FedAvg round
(client SGD lr 1, example-weighted mean of deltas, server lr 1) as the TFF
configurations, on the same arrays, as a Flower-style PyTorch client loop
would run it. Protocol as tff_round.py: `round <r>` in, JSON line out.

Modes:
  sequential: clients one after another (the peer).
  cohort:     each step stacks the live clients' batches into one batch of a
              single model: the arithmetic of a batched cohort, as a speed
              reference (not FedAvg: the clients share weights within the round).
"""

import argparse
import copy
import json
import sys
import time

import numpy as np
import torch
from torch import nn

VOCAB = 90  # shakespeare_char: TFF's character vocabulary plus pad/OOV/BOS/EOS


class CharLM(nn.Module):

  def __init__(self, units):
    super().__init__()
    self.embedding = nn.Embedding(VOCAB, 8)
    self.lstm = nn.LSTM(8, units, num_layers=2, batch_first=True)
    self.logits = nn.Linear(units, VOCAB)

  def forward(self, tokens):
    hidden, _ = self.lstm(self.embedding(tokens))
    return self.logits(hidden)


def _sgd_step(model, x, y, lr):
  model.zero_grad(set_to_none=True)
  logits = model(x)
  loss = nn.functional.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1),
                                     ignore_index=0)
  loss.backward()
  with torch.no_grad():
    for p in model.parameters():
      p -= lr * p.grad


def _batches(x, y, batch_size):
  return [(torch.from_numpy(x[i:i + batch_size]),
           torch.from_numpy(y[i:i + batch_size]))
          for i in range(0, len(x), batch_size)]


def sequential_round(model, clients, batch_size):
  global_state = copy.deepcopy(model.state_dict())
  total = {k: torch.zeros_like(v) for k, v in global_state.items()}
  weight_sum = 0
  for x, y in clients:
    model.load_state_dict(global_state)
    for bx, by in _batches(x, y, batch_size):
      _sgd_step(model, bx, by, 1.0)
    for k, v in model.state_dict().items():
      total[k] += len(x) * v
    weight_sum += len(x)
  model.load_state_dict({k: v / weight_sum for k, v in total.items()})


def cohort_round(model, clients, batch_size):
  per_client = [_batches(x, y, batch_size) for x, y in clients]
  for step in range(max(len(b) for b in per_client)):
    live = [b[step] for b in per_client if step < len(b)]
    _sgd_step(model, torch.cat([x for x, _ in live]),
              torch.cat([y for _, y in live]), 1.0)


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--mode', choices=('sequential', 'cohort'),
                      required=True)
  parser.add_argument('--data', required=True)
  parser.add_argument('--units', type=int, default=256)
  parser.add_argument('--batch_size', type=int, default=4)
  args = parser.parse_args()
  torch.manual_seed(0)
  data = np.load(args.data)
  rounds = [[(data[f'r{r}_c{c}_x'], data[f'r{r}_c{c}_y'])
             for c in range(int(data['clients']))]
            for r in range(int(data['num_rounds']))]
  model = CharLM(args.units)
  run = sequential_round if args.mode == 'sequential' else cohort_round
  print(json.dumps({'ready': True, 'threads': torch.get_num_threads()}),
        flush=True)
  for line in sys.stdin:
    round_num = int(line.split()[1])
    started = time.perf_counter()
    run(model, rounds[round_num], args.batch_size)
    print(json.dumps({'round': round_num,
                      'seconds': time.perf_counter() - started}), flush=True)


if __name__ == '__main__':
  main()
