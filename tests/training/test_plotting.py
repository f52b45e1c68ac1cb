"""Figures of runs, from hand-written metrics.csv files: what a reader sees.

A real centralized run's output is plotted in test_centralized.py, which
trains one anyway.
"""

import csv
import os
import struct
import subprocess
import sys

from matplotlib import ticker
import pytest

from tff_lstm.training import plotting

_BINARY = os.path.join(os.path.dirname(__file__), '..', '..', 'experiments',
                       'plot_metrics.py')
_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_MAE = 'evaluation/test/mean_absolute_error'


def _write_csv(exp_dir, header, rows):
  os.makedirs(exp_dir, exist_ok=True)
  with open(os.path.join(exp_dir, 'metrics.csv'), 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(header)
    writer.writerows(rows)
  return str(exp_dir)


def _federated_dir(path):
  """As run_federated writes it: eval every 2nd round, examples per round."""
  return _write_csv(path, [
      'round', 'evaluation/test/accuracy', 'evaluation/test/loss',
      'client_work/train/loss', 'client_work/train/num_examples'], [
          [0, 0.02, 4.5, '', ''],
          [1, '', '', 4.1, 210],
          [2, 0.16, 3.3, 3.4, 192],
          [3, '', '', 3.2, 206],
          [4, 0.18, 3.1, 3.1, 200],
      ])


def _centralized_dir(path):
  return _write_csv(path, [
      'round', 'evaluation/test/accuracy', 'evaluation/test/loss',
      'examples_seen', 'steps'], [
          [0, 0.01, 4.5, 0, 0],
          [1, 0.15, 3.4, 400, 100],
          [2, 0.19, 3.0, 800, 200],
      ])


def _forecast_dir(path):
  """A forecaster records loss and mean absolute error, no accuracy."""
  return _write_csv(path, ['round', 'evaluation/test/loss', _MAE,
                           'client_work/train/num_examples'], [
                               [0, 9.0, 2.5, ''], [1, 4.0, 1.5, 50],
                               [2, 1.0, 0.8, 50]])


def _long_dir(path, final, diverge_at=None):
  """Ten evaluations that rise towards `final` (or blow up after one)."""
  rows = []
  for r in range(0, 100, 10):
    loss = 4.0 - 3.0 * r / 90
    if diverge_at is not None and r >= diverge_at:
      loss = 15.0
    rows.append([r, final * r / 90, loss, 40])
  return _write_csv(path, ['round', 'evaluation/test/accuracy',
                           'evaluation/test/loss',
                           'client_work/train/num_examples'], rows)


def _png_size(path):
  with open(path, 'rb') as f:
    data = f.read(24)
  assert data.startswith(_PNG_SIGNATURE)
  return struct.unpack('>II', data[16:24])


def test_rows_without_evaluation_are_skipped(tmp_path):
  curves = plotting.read_curves(_federated_dir(tmp_path / 'fed'))
  assert curves.label == 'fed'
  assert curves.x == [0, 2, 4]
  assert curves.accuracy == [0.02, 0.16, 0.18]
  assert curves.loss == [4.5, 3.3, 3.1]


def test_examples_seen_axis_for_federated_and_centralized_runs(tmp_path):
  federated = plotting.read_curves(_federated_dir(tmp_path / 'fed'),
                                   x_axis='examples_seen')
  assert federated.x == [0, 402, 808]  # running sum of num_examples
  central = plotting.read_curves(_centralized_dir(tmp_path / 'c'),
                                 x_axis='examples_seen', label='central')
  assert central.x == [0, 400, 800] and central.label == 'central'


def test_any_recorded_metric_by_name(tmp_path):
  series = plotting.read_series(
      _federated_dir(tmp_path / 'fed'),
      metrics=['client_work/train/loss', 'evaluation/test/accuracy'])
  # Each metric at the rounds that recorded it.
  assert series.points['client_work/train/loss'] == ([1, 2, 3, 4],
                                                     [4.1, 3.4, 3.2, 3.1])
  assert series.points['evaluation/test/accuracy'] == ([0, 2, 4],
                                                       [0.02, 0.16, 0.18])
  forecast = plotting.read_series(_forecast_dir(tmp_path / 'f'),
                                  metrics=[_MAE])
  assert forecast.points[_MAE] == ([0, 1, 2], [2.5, 1.5, 0.8])


def test_a_metric_a_run_did_not_record_is_refused_naming_both(tmp_path):
  forecast = _forecast_dir(tmp_path / 'forecast')
  output = tmp_path / 'x.png'
  with pytest.raises(plotting.PlotDataError) as e:
    plotting.plot_experiments([forecast], str(output), options=(
        plotting.PlotOptions(metrics=(plotting.ACCURACY,))))
  assert str(e.value).startswith(
      f"{forecast} did not record 'evaluation/test/accuracy'; its "
      'metrics.csv has client_work/train/num_examples, evaluation/test/loss, '
      f'{_MAE}.')
  assert not output.exists()


def test_a_run_without_accuracy_plots_its_own_metric_by_default(tmp_path):
  forecast = _forecast_dir(tmp_path / 'forecast')
  assert plotting.own_metrics(forecast) == (_MAE, plotting.LOSS)
  assert plotting.own_metrics(_federated_dir(tmp_path / 'fed')) == (
      plotting.DEFAULT_METRICS)
  output = str(tmp_path / 'f.png')
  plotting.plot_experiments([forecast], output)
  assert open(output, 'rb').read(8) == _PNG_SIGNATURE


def test_axes_are_labelled_with_integer_rounds_and_distinct_styles(tmp_path):
  runs = [plotting.read_series(_long_dir(tmp_path / n, f), label=n)
          for n, f in (('a', 0.5), ('b', 0.5), ('c', 0.4))]
  fig = plotting.build_figure(runs, plotting.PlotOptions(
      ylabels=('test accuracy (sample)', 'test loss (sample)')))
  acc, loss = fig.axes
  assert acc.get_ylabel() == 'test accuracy (sample)'
  assert loss.get_ylabel() == 'test loss (sample)'
  assert acc.get_xlabel() == loss.get_xlabel() == 'round'
  locator = acc.xaxis.get_major_locator()
  assert isinstance(locator, ticker.MaxNLocator)
  assert all(float(t).is_integer() for t in acc.get_xticks())
  lines = [line for line in acc.get_lines() if line.get_label() in 'abc']
  styles = {(l.get_color(), l.get_linestyle(), l.get_marker())
            for l in lines}
  assert len(styles) == 3 and len({l.get_linestyle() for l in lines}) == 3
  # a and b coincide; hollow markers of decreasing size keep both visible.
  assert lines[0].get_markerfacecolor() == 'none'
  assert lines[0].get_markersize() > lines[1].get_markersize()
  assert plotting.metric_label(_MAE) == 'test mean absolute error'
  assert plotting.metric_label('client_work/train/loss') == 'train loss'


def test_reference_lines_and_a_zoomed_tail(tmp_path):
  runs = [plotting.read_series(_long_dir(tmp_path / 'fedavg', 0.56),
                               label='FedAvg')]
  options = plotting.PlotOptions(
      metrics=(plotting.ACCURACY,), tail_from=50,
      references=(plotting.parse_reference(
          '0.569|paper (Reddi et al. 2021): FedAvg 56.9 %|FedAvg'),
                  plotting.parse_reference('0.6|a target')))
  fig = plotting.build_figure(runs, options)
  full, tail = fig.axes[:2]
  assert tail.get_xlim()[0] == 50 and tail.get_xlim()[1] >= 90
  assert 'zoomed: from round 50' in tail.get_title()
  # The tail's y range fits what is inside it, references included.
  low, high = tail.get_ylim()
  assert 0.56 * 50 / 90 - 0.05 < low < 0.56 * 50 / 90
  assert 0.6 < high < 0.65
  for ax in (full, tail):
    refs = {l.get_label(): l for l in ax.get_lines()
            if l.get_label().startswith(('paper', 'a target'))}
    assert set(refs) == {'paper (Reddi et al. 2021): FedAvg 56.9 %',
                         'a target'}
    paper = refs['paper (Reddi et al. 2021): FedAvg 56.9 %']
    assert list(paper.get_ydata()) == [0.569, 0.569]
    fedavg = next(l for l in ax.get_lines() if l.get_label() == 'FedAvg')
    assert paper.get_color() == fedavg.get_color()  # the run's colour
  legend = [t.get_text() for t in fig.legends[0].get_texts()]
  assert 'paper (Reddi et al. 2021): FedAvg 56.9 %' in legend
  with pytest.raises(ValueError, match='not before the runs'):
    plotting.build_figure(runs, plotting.PlotOptions(tail_from=90))


def test_a_clipped_y_range_marks_and_counts_what_it_hides(tmp_path):
  runs = [plotting.read_series(_long_dir(tmp_path / 'plain', 0.5),
                               label='FedAvg'),
          plotting.read_series(_long_dir(tmp_path / 'dp', 0.1, diverge_at=30),
                               label='DP z=0.3')]
  fig = plotting.build_figure(runs, plotting.PlotOptions(
      ylims={plotting.LOSS: (None, 5.0)}))
  loss = fig.axes[1]
  assert loss.get_ylim()[1] == 5.0
  notes = [t.get_text() for t in loss.texts]
  assert notes == ['\u25b2 DP z=0.3: 7 of 10 points above 5 (up to 15)']
  marks = [l for l in loss.get_lines() if l.get_marker() == '^'
           and l.get_linestyle() == 'None']
  assert len(marks) == 1 and set(marks[0].get_ydata()) == {5.0}


def test_examples_axis_with_rounds_on_top(tmp_path):
  runs = [plotting.read_series(_federated_dir(tmp_path / 'fed'),
                               x_axis='examples_seen', label='FedAvg'),
          plotting.read_series(_centralized_dir(tmp_path / 'c'),
                               x_axis='examples_seen', label='central')]
  fig = plotting.build_figure(runs, plotting.PlotOptions(
      x_axis='examples_seen', round_axis=True))
  top = fig.axes[0].child_axes[0]
  assert top.get_xlabel() == 'round of FedAvg'
  to_rounds = top._functions[0]  # pylint: disable=protected-access
  # FedAvg had seen 402 examples after round 2, 808 after round 4.
  assert to_rounds(402.0) == pytest.approx(2.0)
  assert to_rounds(808.0) == pytest.approx(4.0)
  assert to_rounds(1010.0) > 4.0  # the margin maps on, not flat
  assert fig.axes[0].get_xlabel() == 'examples seen'
  with pytest.raises(ValueError, match='--round_axis labels an examples_seen'):
    plotting.check_options(plotting.PlotOptions(round_axis=True), 'x.png',
                           ['a'])


def test_vector_and_300_dpi_outputs_are_reproducible(tmp_path):
  fed = _federated_dir(tmp_path / 'fed')
  png = plotting.plot_experiments([fed], str(tmp_path / 'out' / 'f.png'))
  width, height = _png_size(png)
  assert (width, height) == (2 * 5.4 * 300, (3.3 + 0.9) * 300)
  pdf = plotting.plot_experiments([fed], str(tmp_path / 'f.pdf'))
  svg = plotting.plot_experiments([fed], str(tmp_path / 'f.svg'))
  with open(pdf, 'rb') as f:
    first_pdf = f.read()
  assert first_pdf.startswith(b'%PDF')
  with open(svg) as f:
    assert '<svg' in f.read()
  again = plotting.plot_experiments([fed], str(tmp_path / 'g.pdf'))
  with open(again, 'rb') as f:
    assert f.read() == first_pdf  # no creation date: same CSV, same file
  with pytest.raises(ValueError, match=r'--output=f\.jpg: the file name must '
                     r'end in \.png, \.pdf, \.svg'):
    plotting.plot_experiments([fed], 'f.jpg')


def test_bad_options_name_their_flag(tmp_path):
  with pytest.raises(ValueError, match=r"--reference='0\.5': give VALUE\|LABEL"):
    plotting.parse_reference('0.5')
  with pytest.raises(ValueError, match="'high' is not a number"):
    plotting.parse_reference('high|paper')
  with pytest.raises(ValueError, match='give METRIC=LOW:HIGH'):
    plotting.parse_ylim('evaluation/test/loss=5')
  with pytest.raises(ValueError, match='LOW must be below HIGH'):
    plotting.parse_ylim('evaluation/test/loss=5:1')
  assert plotting.parse_ylim('evaluation/test/loss=:5') == (
      'evaluation/test/loss', (None, 5.0))
  fed = _federated_dir(tmp_path / 'fed')
  with pytest.raises(ValueError, match="names run 'FedYogi', which is not"):
    plotting.plot_experiments(
        [fed], str(tmp_path / 'x.png'), labels=['FedAvg'],
        options=plotting.PlotOptions(references=(
            plotting.Reference(0.5, 'paper', 'FedYogi'),)))
  with pytest.raises(ValueError, match='--ylim names'):
    plotting.plot_experiments([fed], str(tmp_path / 'x.png'),
                              options=plotting.PlotOptions(
                                  ylims={_MAE: (0, 1)}))
  assert not os.path.exists(tmp_path / 'x.png')


def test_missing_metrics_and_missing_evaluations_name_the_dir(tmp_path):
  missing = str(tmp_path / 'never_ran')
  with pytest.raises(plotting.PlotDataError,
                     match=f'{missing}: no metrics.csv'):
    plotting.read_curves(missing)
  no_eval = _write_csv(tmp_path / 'no_eval',
                       ['round', 'client_work/train/loss'],
                       [[1, 4.0], [2, 3.5]])
  with pytest.raises(plotting.PlotDataError,
                     match=f'{no_eval}: metrics.csv has no evaluation rows'):
    plotting.read_curves(no_eval)
  round_only = _write_csv(tmp_path / 'round_only',
                          ['round', 'evaluation/test/loss'], [[0, 4.0]])
  with pytest.raises(plotting.PlotDataError, match='use --x_axis=round'):
    plotting.read_curves(round_only, x_axis='examples_seen')


def test_labels_must_match_the_dirs(tmp_path):
  fed = _federated_dir(tmp_path / 'fed')
  with pytest.raises(ValueError, match='2 labels for 1 experiment dirs'):
    plotting.plot_experiments([fed], str(tmp_path / 'x.png'), labels=['a', 'b'])
  assert not os.path.exists(tmp_path / 'x.png')


def _run(*flags):
  return subprocess.run([sys.executable, _BINARY, *flags], capture_output=True,
                        text=True, timeout=120)


def test_binary_plots_recorded_copies_with_every_option(tmp_path):
  results = tmp_path / 'results'
  results.mkdir()
  for name, final in (('fedavg', 0.56), ('fedadam', 0.55)):
    _long_dir(tmp_path / name, final)
    os.replace(tmp_path / name / 'metrics.csv', results / f'{name}.metrics.csv')
  output = str(tmp_path / 'cli.pdf')
  run = _run(f'--experiment_dirs={results}/fedavg.metrics.csv,'
             f'{results}/fedadam.metrics.csv', f'--output={output}',
             '--labels=FedAvg,FedAdam', '--metrics=evaluation/test/accuracy',
             '--ylabels=test accuracy', '--tail_from=50',
             '--reference=0.569|paper: FedAvg 56.9 %|FedAvg',
             '--ylim=evaluation/test/accuracy=0:0.7')
  assert run.returncode == 0, run.stderr
  assert f'wrote {output}' in run.stdout
  with open(output, 'rb') as f:
    assert f.read(4) == b'%PDF'


def test_binary_refuses_an_unrecorded_metric_in_one_line(tmp_path):
  forecast = _forecast_dir(tmp_path / 'forecast')
  run = _run(f'--experiment_dirs={forecast}', '--metrics=evaluation/test/acc',
             f'--output={tmp_path / "no.png"}')
  assert run.returncode == 2
  assert run.stderr.strip().splitlines() == [
      f"error: {forecast} did not record 'evaluation/test/acc'; its "
      'metrics.csv has client_work/train/num_examples, evaluation/test/loss, '
      f'{_MAE}.']
  assert not os.path.exists(tmp_path / 'no.png')


def test_binary_names_a_missing_dir(tmp_path):
  missing = str(tmp_path / 'typo')
  run = _run(f'--experiment_dirs={_federated_dir(tmp_path / "fed")},{missing}',
             f'--output={tmp_path / "no.png"}')
  assert run.returncode != 0
  assert f'error: {missing}: no metrics.csv' in run.stderr
  assert 'Traceback' not in run.stderr
  assert not os.path.exists(tmp_path / 'no.png')


def test_binary_requires_dirs_and_output():
  run = _run('--output=x.png')
  assert run.returncode != 0
  assert 'experiment_dirs' in run.stderr and 'Traceback' not in run.stderr
