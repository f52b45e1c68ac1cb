"""Model-update aggregation: DP, secure, compressed, robust: TFF factories.

`config.build_aggregator` turns one `AggregationConfig` (from `flags.py`) into
the TFF aggregation factory handed to `build_learning_process`.
"""
