"""The perf store, its analyser, host polling and the router that chooses local or hosted on measured speed."""
