"""The test-evaluation flags both experiment binaries take, defined once."""

from absl import flags


def define_evaluation_flags(flag_values: flags.FlagValues = flags.FLAGS
                            ) -> None:
  """Defines --clients_per_eval (periodic) and --final_eval_clients."""
  flags.DEFINE_integer(
      'clients_per_eval', 100, 'Test clients in the periodic evaluation (a '
      'fixed seeded sample; 0: all).', flag_values=flag_values)
  flags.DEFINE_integer(
      'final_eval_clients', 0, 'Test clients in the final evaluation (0: all, '
      'the full test split, recorded as final_test; else a fixed seeded '
      'sample of this many, recorded as final_test_sample, which tables of '
      'full-split results leave out).', lower_bound=0,
      flag_values=flag_values)
