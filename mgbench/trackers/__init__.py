"""Measurement trackers: step timing and memory sampling, hardware behind interfaces."""
