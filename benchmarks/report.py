"""Where a benchmark's results go: `<stem>.json` (all figures) and `<stem>.md`."""

import json
import os
from collections.abc import Sequence


def write(out_dir: str, stem: str, results: dict, lines: Sequence[str]) -> None:
  """Writes the JSON and the markdown `lines`; prints the markdown too."""
  os.makedirs(out_dir, exist_ok=True)
  with open(os.path.join(out_dir, f'{stem}.json'), 'w') as f:
    json.dump(results, f, indent=2, sort_keys=True)
    f.write('\n')
  with open(os.path.join(out_dir, f'{stem}.md'), 'w') as f:
    f.write('\n'.join(lines) + '\n')
