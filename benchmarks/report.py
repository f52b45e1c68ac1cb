"""Where a benchmark's results go: `<stem>.json` (all figures) and `<stem>.md`."""

import json
import os
from collections.abc import Sequence


def cpu_description() -> str:
  """The CPU model and its bf16/AMX flags: results differ across CPU kinds."""
  fields = {}
  try:
    with open('/proc/cpuinfo') as f:
      for line in f:
        key, _, value = line.partition(':')
        fields.setdefault(key.strip(), value.strip())
  except OSError:
    return 'unknown CPU'
  extras = sorted(set(fields.get('flags', '').split())
                  & {'avx512f', 'avx512_bf16', 'amx_bf16'})
  return (f'{fields.get("model name", "unknown CPU")} (family '
          f'{fields.get("cpu family", "?")}, model {fields.get("model", "?")}'
          f'{"; " + ", ".join(extras) if extras else ""})')


def write(out_dir: str, stem: str, results: dict, lines: Sequence[str]) -> None:
  """Writes the JSON and the markdown `lines`; prints the markdown too."""
  os.makedirs(out_dir, exist_ok=True)
  with open(os.path.join(out_dir, f'{stem}.json'), 'w') as f:
    json.dump(results, f, indent=2, sort_keys=True)
    f.write('\n')
  with open(os.path.join(out_dir, f'{stem}.md'), 'w') as f:
    f.write('\n'.join(lines) + '\n')
