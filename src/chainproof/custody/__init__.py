"""The chain of custody: what the log's entries mean for datasets, models and the people who touch them."""
