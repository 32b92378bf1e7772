"""Structured concurrency: the supervisor, periodic tasks, job workers, child processes."""
