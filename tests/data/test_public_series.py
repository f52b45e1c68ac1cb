"""The built-in glucose (health) and gait (IoT) series: real wheel files,
converted to the user-import layout and imported offline."""

import pytest

from tff_lstm.data import public_series


def _wheel_file(name):
  spec = public_series.SERIES[name]
  return public_series.read_wheel_file(spec.package, spec.version, spec.file)


def test_glucose_is_one_client_per_day_without_repeated_times():
  lines = public_series.glucose_timeseries_csv(
      _wheel_file('glucose')).decode().splitlines()
  assert lines[0] == 'client_id,timestamp,glucose_mg_dl'
  assert lines[1] == 'day_2010-03-24,2010-03-24T09:51:00,258'
  times = [line.split(',')[1] for line in lines[1:]]
  assert len(times) == len(set(times))
  assert len({line.split(',')[0] for line in lines[1:]}) == 200
  # The record holds 52,281 readings, a few of them at a repeated minute.
  assert 52_000 < len(times) < 52_281


def test_gait_is_one_client_per_sensor_in_sample_steps():
  lines = public_series.gait_timeseries_csv(
      _wheel_file('gait')).decode().splitlines()
  assert lines[0] == 'client_id,timestamp,horiz_fwd,vert,horiz_lateral'
  assert lines[1] == 'ankle,0,101,1000,297'  # The file's first sample.
  clients = [line.split(',')[0] for line in lines[1:]]
  assert {c: clients.count(c) for c in set(clients)} == {
      'ankle': 7040, 'leg': 7040, 'trunk': 7040}
  assert [line.split(',')[1] for line in lines[7040:7042]] == ['7039', '0']


def test_unknown_series_is_refused_by_name():
  with pytest.raises(ValueError, match='--series=ecg: not a built-in set'):
    public_series.ensure_database('ecg')
