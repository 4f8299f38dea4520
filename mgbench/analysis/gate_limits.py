"""The regression gates' default limits, each defined once and light to import (no numpy), so
``mgbench gate`` shows them as its flags' defaults and ``analysis.gates`` decides by them."""

ALPHA = 0.01  # a gate fails a build: a stricter level than a report's 0.05
MAX_SLOWDOWN_PCT = 5.0
MAX_MEMORY_GROWTH_PCT = 5.0  # TF allocator and NVML peaks
MAX_RSS_GROWTH_PCT = 20.0  # host RSS moves with the allocator's caching and the Python heap
MIN_RATIO = 0.97  # the slowest allowed A/B throughput ratio inside one run
