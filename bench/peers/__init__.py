"""Peer model servers for bench/bench_serving.py, each installed in its own virtualenv (make bench-serving)."""
